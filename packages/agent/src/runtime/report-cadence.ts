/**
 * How soon the agent reports (status, metrics, Events) after the engine takes a step.
 * Each report builds the whole desired table, so while steps keep coming (a large
 * sync) reports back off to 20 times what the last build cost, at most 2 s: status
 * follows the engine at a bounded share of its time and garbage. A step after a quiet
 * spell (a gateway going down on a settled node) is reported after `everyMs`.
 */
export const MAX_REPORT_DELAY_MS = 2000;

export interface ReportCadence {
  /** The wait before reporting a step that arrives now. */
  delay(): number;
  /** Records a report that began at `startedAt` (same clock) and has just ended. */
  reported(startedAt: number): void;
}

export function reportCadence(everyMs: number, now: () => number = () => performance.now()): ReportCadence {
  let busyDelayMs = everyMs;
  let lastReportAt = Number.NEGATIVE_INFINITY;
  return {
    delay: () => (now() - lastReportAt > busyDelayMs ? everyMs : busyDelayMs),
    reported(startedAt) {
      lastReportAt = now();
      busyDelayMs = Math.max(everyMs, Math.min(MAX_REPORT_DELAY_MS, 20 * (lastReportAt - startedAt)));
    },
  };
}
