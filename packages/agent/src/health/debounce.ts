/**
 * The verdict on one gateway from its stream of probe outcomes: `fall` consecutive
 * failures make it down, `rise` consecutive successes make it up. A pure step
 * function, so the rules are tested without time or sockets.
 *
 * What it reports is deliberately sparse, because every report becomes an event in
 * the engine's log: a report on each verdict change, and while up, a round-trip-time
 * refresh at most every `rttRefreshMs`. Never one report per probe.
 */
export type ProbeOutcome =
  | { readonly ok: true; readonly rttMs: number }
  | { readonly ok: false; readonly reason: string };

export interface DebounceRules {
  readonly fall: number;
  readonly rise: number;
  readonly rttRefreshMs: number;
}

export interface GatewayVerdict {
  /**
   * `unknown` until the first verdict: the engine treats that as up, or as down when the
   * kernel it found at start showed the gateway taken out (core start-health.ts).
   */
  readonly state: "unknown" | "up" | "down";
  readonly successes: number;
  readonly failures: number;
  /** When the last report was made (ms, the caller's clock). */
  readonly reportedAt?: number;
}

export interface HealthReport {
  readonly up: boolean;
  readonly rttMs?: number;
}

export const INITIAL_VERDICT: GatewayVerdict = { state: "unknown", successes: 0, failures: 0 };

export function stepVerdict(
  verdict: GatewayVerdict,
  outcome: ProbeOutcome,
  now: number,
  rules: DebounceRules,
): { readonly verdict: GatewayVerdict; readonly report?: HealthReport } {
  if (outcome.ok) {
    const successes = verdict.successes + 1;
    const rttMs = Math.round(outcome.rttMs * 1000) / 1000;
    const becomesUp = verdict.state !== "up" && successes >= rules.rise;
    const refresh =
      verdict.state === "up" &&
      (verdict.reportedAt === undefined || now - verdict.reportedAt >= rules.rttRefreshMs);
    if (becomesUp || refresh) {
      return {
        verdict: { state: "up", successes, failures: 0, reportedAt: now },
        report: { up: true, rttMs },
      };
    }
    return { verdict: { ...verdict, successes, failures: 0 } };
  }
  const failures = verdict.failures + 1;
  if (verdict.state !== "down" && failures >= rules.fall) {
    return { verdict: { state: "down", successes: 0, failures, reportedAt: now }, report: { up: false } };
  }
  return { verdict: { ...verdict, successes: 0, failures } };
}
