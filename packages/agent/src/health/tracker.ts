/**
 * Gateway health for one node: one prober loop per distinct gateway, however many
 * Routes use it, started and stopped as the set of gateways to probe changes, and a
 * stream of `probe/result` event bodies for the engine.
 *
 * Each loop sends a probe every `intervalMs` (the first at once), each probe waits
 * at most `timeoutMs`, and the outcomes go through the fall/rise debounce; only its
 * sparse reports leave as events.
 */
import type { EventBody, IpAddr } from "@kroute/core";
import {
  asyncScheduler,
  catchError,
  defer,
  distinctUntilChanged,
  filter,
  from,
  map,
  mergeMap,
  type Observable,
  type ObservableInput,
  of,
  pairwise,
  type SchedulerLike,
  scan,
  share,
  startWith,
  takeUntil,
  timer,
} from "rxjs";
import type { ProbeSettings } from "../settings.ts";
import {
  type GatewayVerdict,
  type HealthReport,
  INITIAL_VERDICT,
  type ProbeOutcome,
  stepVerdict,
} from "./debounce.ts";
import { checkProbeSettings } from "./presets.ts";

export type ProbeResultBody = Extract<EventBody, { type: "probe/result" }>;

/** One echo to one gateway, settling with its outcome (an IcmpProber's `echo` fits). */
export type ProbeFn = (gateway: IpAddr, timeoutMs: number) => ObservableInput<ProbeOutcome>;

export interface HealthTrackerOptions {
  readonly node: string;
  readonly settings: ProbeSettings;
  readonly probe: ProbeFn;
  /** Least time between two RTT refreshes of an up gateway; default 10 s. */
  readonly rttRefreshMs?: number;
  /** Clock and timers; default asyncScheduler (a TestScheduler in tests). */
  readonly scheduler?: SchedulerLike;
  /**
   * A prober that could not probe at all (no socket permission, say), as opposed to a
   * gateway that did not answer: the only place its reason is seen, as a probe result
   * carries none.
   */
  readonly onProbeError?: (gateway: IpAddr, error: unknown) => void;
}

export const DEFAULT_RTT_REFRESH_MS = 10_000;

/**
 * `probe/result` bodies for the gateways in the latest list of `gateways$`. A gateway
 * leaving the list stops being probed at once; one coming back starts from unknown.
 */
export function trackGatewayHealth(
  gateways$: Observable<readonly IpAddr[]>,
  options: HealthTrackerOptions,
): Observable<ProbeResultBody> {
  const settings = checkProbeSettings(options.settings);
  const scheduler = options.scheduler ?? asyncScheduler;
  const rules = {
    fall: settings.fall,
    rise: settings.rise,
    rttRefreshMs: options.rttRefreshMs ?? DEFAULT_RTT_REFRESH_MS,
  };

  const sets$ = gateways$.pipe(
    map((list) => [...new Set(list)].sort()),
    distinctUntilChanged((a, b) => a.length === b.length && a.every((g, i) => g === b[i])),
    share(),
  );

  const probeOnce = (gateway: IpAddr): Observable<ProbeOutcome> =>
    defer(() => from(options.probe(gateway, settings.timeoutMs))).pipe(
      // A broken prober (no socket permission, say) counts as a failed probe, never a crash.
      catchError((error: unknown) => {
        options.onProbeError?.(gateway, error);
        return of<ProbeOutcome>({ ok: false, reason: String(error) });
      }),
    );

  const watchGateway = (gateway: IpAddr): Observable<ProbeResultBody> =>
    timer(0, settings.intervalMs, scheduler).pipe(
      mergeMap(() => probeOnce(gateway)),
      scan<ProbeOutcome, { verdict: GatewayVerdict; report?: HealthReport }>(
        (acc, outcome) => stepVerdict(acc.verdict, outcome, scheduler.now(), rules),
        { verdict: INITIAL_VERDICT },
      ),
      map((step) => step.report),
      filter((report): report is HealthReport => report !== undefined),
      map((report) => ({
        type: "probe/result" as const,
        node: options.node,
        gateway,
        up: report.up,
        ...(report.rttMs === undefined ? {} : { rttMs: report.rttMs }),
      })),
      takeUntil(sets$.pipe(filter((set) => !set.includes(gateway)))),
    );

  return sets$.pipe(
    startWith([] as IpAddr[]),
    pairwise(),
    mergeMap(([before, after]) => after.filter((g) => !before.includes(g))),
    mergeMap(watchGateway),
  );
}
