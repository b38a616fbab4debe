import { describe, expect, it } from "vitest";
import { backoffDelay } from "../../src/kube/timing.ts";

describe("backoffDelay", () => {
  const options = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };

  it("doubles per attempt up to the ceiling", () => {
    const top = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5].map((n) => Math.round(backoffDelay(n, options, top)))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("spreads each step over its jitter fraction", () => {
    expect(backoffDelay(2, options, () => 0)).toBe(200);
    expect(backoffDelay(2, options, () => 0.5)).toBe(300);
    expect(backoffDelay(2, { ...options, jitter: 0 }, () => 0)).toBe(400);
  });
});
