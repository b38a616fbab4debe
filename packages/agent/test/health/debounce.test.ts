import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { INITIAL_VERDICT, type ProbeOutcome, stepVerdict } from "../../src/health/debounce.ts";

const ok = (rttMs = 1): ProbeOutcome => ({ ok: true, rttMs });
const lost: ProbeOutcome = { ok: false, reason: "timeout" };
const rules = { fall: 3, rise: 2, rttRefreshMs: 5000 };

function run(outcomes: readonly ProbeOutcome[], stepMs = 1000) {
  let verdict = INITIAL_VERDICT;
  const reports: { at: number; up: boolean }[] = [];
  outcomes.forEach((outcome, i) => {
    const step = stepVerdict(verdict, outcome, i * stepMs, rules);
    verdict = step.verdict;
    if (step.report) reports.push({ at: i * stepMs, up: step.report.up });
  });
  return { verdict, reports };
}

describe("fall/rise debounce", () => {
  it("goes up after `rise` successes and down after `fall` consecutive failures", () => {
    expect(run([ok(), ok(), lost, lost, lost]).reports).toEqual([
      { at: 1000, up: true },
      { at: 4000, up: false },
    ]);
  });

  it("ignores failures fewer than `fall` in a row, and successes fewer than `rise` while down", () => {
    const { reports, verdict } = run([ok(), ok(), lost, lost, ok(), lost, lost, lost, ok(), lost, ok()]);
    expect(reports).toEqual([
      { at: 1000, up: true },
      { at: 7000, up: false },
    ]);
    expect(verdict.state).toBe("down");
  });

  it("refreshes the RTT of an up gateway at most every rttRefreshMs, with the latest RTT", () => {
    let verdict = INITIAL_VERDICT;
    const rtts: (number | undefined)[] = [];
    for (let t = 0; t <= 20_000; t += 100) {
      const step = stepVerdict(verdict, ok(t / 1000), t, rules);
      verdict = step.verdict;
      if (step.report) rtts.push(step.report.rttMs);
    }
    expect(rtts).toEqual([0.1, 5.1, 10.1, 15.1]); // 20 s is 4.9 s after the last report
  });

  it("reports exactly at the verdict changes, for any outcome sequence (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 60 }), (flags) => {
        const outcomes = flags.map((f) => (f ? ok() : lost));
        const { reports } = run(outcomes, 1); // refresh interval never reached
        // Reference: the verdict changes when the trailing run of equal outcomes reaches its threshold.
        const expected: { at: number; up: boolean }[] = [];
        let state: "unknown" | "up" | "down" = "unknown";
        let runLength = 0;
        flags.forEach((f, i) => {
          runLength = i > 0 && flags[i - 1] === f ? runLength + 1 : 1;
          if (f && state !== "up" && runLength >= rules.rise) {
            state = "up";
            expected.push({ at: i, up: true });
          } else if (!f && state !== "down" && runLength >= rules.fall) {
            state = "down";
            expected.push({ at: i, up: false });
          }
        });
        expect(reports).toEqual(expected);
      }),
    );
  });
});
