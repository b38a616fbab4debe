import { describe, expect, it } from "vitest";
import { CI_SEED, fastCheckSettings } from "../src/fast-check-settings.ts";

describe("fast-check settings from the environment", () => {
  it("pins the seed in CI, and leaves it free elsewhere", () => {
    expect(fastCheckSettings({ CI: "1" })).toEqual({ seed: CI_SEED, numRuns: 100 });
    expect(fastCheckSettings({})).toEqual({ numRuns: 100 });
  });

  it("replays a printed seed, negative ones too, in CI or not", () => {
    expect(fastCheckSettings({ FC_SEED: "-1240304852", CI: "1" })).toEqual({
      seed: -1240304852,
      numRuns: 100,
    });
    expect(fastCheckSettings({ FC_SEED: "7", FC_NUM_RUNS: "5" })).toEqual({ seed: 7, numRuns: 5 });
  });

  it.each([
    [{ FC_SEED: "abc" }, 'FC_SEED: "abc" is not an integer'],
    [{ FC_SEED: "" }, 'FC_SEED: "" is not an integer'],
    [{ FC_SEED: "1.5" }, 'FC_SEED: "1.5" is not an integer'],
    [{ FC_NUM_RUNS: "lots" }, 'FC_NUM_RUNS: "lots" is not an integer of at least 1'],
    [{ FC_NUM_RUNS: "0" }, 'FC_NUM_RUNS: "0" is not an integer of at least 1'],
  ])("refuses %j, naming the variable and value", (env, message) => {
    expect(() => fastCheckSettings(env)).toThrow(message);
  });
});
