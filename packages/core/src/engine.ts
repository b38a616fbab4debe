/**
 * The engine: sources merged, each event sequenced (v, seq, at from the injected
 * clock), reduced, planned, and applied through the dataplane, with the results fed
 * back as `dataplane/applied` events. At most one apply is in flight; when it
 * returns, the next plan is computed against the latest state, so a burst of events
 * becomes one batch; a batch that installs a default-route override goes to the
 * dataplane in two stages (override-stages.ts). Results whose op the kernel's
 * notifications already echoed while it was in flight are marked `echoed` (see
 * echo.ts): the notifications, which may have moved on since, stay the owned state's
 * word for those. Held-back ops are retried through a `timer/fired` event scheduled on
 * the injected scheduler (TestScheduler in marble tests).
 *
 * No Promises and no clock of its own: time comes from `clock` and `scheduler`.
 */
import {
  asapScheduler,
  concatMap,
  defer,
  from,
  map,
  merge,
  Observable,
  type ObservableInput,
  of,
  type SchedulerLike,
  type Subscription,
  take,
} from "rxjs";
import { desiredTable } from "./desired.ts";
import { echoedResults } from "./echo.ts";
import type { EngineEvent, EventBody } from "./events.ts";
import type { KernelChange, Op, OpResult } from "./kernel.ts";
import { secondStage, splitBeforeOverride } from "./override-stages.ts";
import { nextRetryAt, plan } from "./plan.ts";
import { reduce } from "./reducer.ts";
import type { EngineSettings } from "./settings.ts";
import { initialNodeState, type NodeState } from "./state.ts";

export interface EngineOptions {
  readonly node: string;
  readonly settings: EngineSettings;
  /** Event sources (Kubernetes watches, probes, kernel notifications...), without envelopes. */
  readonly sources: readonly ObservableInput<EventBody>[];
  /** Applies ops in order; exactly one result per op. A kernel refusal is a result; an error means a broken driver. */
  readonly apply: (ops: readonly Op[]) => ObservableInput<readonly OpResult[]>;
  /** Milliseconds since the epoch, stamped into each event's `at`. Default: the scheduler's clock. */
  readonly clock?: () => number;
  /** Schedules retry timers. Default: asapScheduler's clock and timers. */
  readonly scheduler?: SchedulerLike;
  /** Start from this state (a replay's) instead of an empty one. */
  readonly initialState?: NodeState;
  /** Sequence number of the first event minus one (continue a recording). Default 0. */
  readonly lastSeq?: number;
  /** Also compute the whole desired table for each step (O(table): for status, not for hot paths). */
  readonly withDesired?: boolean;
}

export interface EngineStep {
  readonly event: EngineEvent;
  /** The state after the event. */
  readonly state: NodeState;
  /** Ops handed to the dataplane after this event; absent when none (or an apply was in flight). */
  readonly ops?: readonly Op[];
  /** For a `dataplane/applied` step: each op with its result (as in the event). */
  readonly results?: readonly { readonly op: Op; readonly result: OpResult }[];
  readonly desired?: ReturnType<typeof desiredTable>;
}

type Applied = readonly { readonly op: Op; readonly result: OpResult }[];

const NO_RESULT: OpResult = {
  ok: false,
  errno: 5,
  code: "EIO",
  message: "the dataplane returned no result for this op",
};

export function createEngine(options: EngineOptions): Observable<EngineStep> {
  return new Observable<EngineStep>((subscriber) => {
    const scheduler = options.scheduler ?? asapScheduler;
    const clock = options.clock ?? (() => scheduler.now());
    let state = options.initialState ?? initialNodeState(options.node, options.settings);
    let seq = options.lastSeq ?? 0;
    let applying: Subscription | undefined;
    let inFlight = false;
    /** Kernel notifications reduced while the apply in flight was: the echoes of its ops among them. */
    let notifiedInFlight: KernelChange[] = [];
    let sourcesDone = false;
    let retry: { at: string; timer: Subscription } | undefined;
    const queue: EventBody[] = [];
    let draining = false;

    const finishIfIdle = () => {
      if (sourcesDone && !inFlight && queue.length === 0) subscriber.complete();
    };

    const scheduleRetry = () => {
      const at = nextRetryAt(state);
      if (at === retry?.at) return;
      retry?.timer.unsubscribe();
      retry = undefined;
      if (at === undefined) return;
      const delay = Math.max(0, Date.parse(at) - clock());
      const timer = scheduler.schedule(() => {
        retry = undefined;
        enqueue({ type: "timer/fired", node: options.node, timer: "retry" });
      }, delay);
      retry = { at, timer };
    };

    /** Applies a batch; an empty one is not handed to the dataplane. */
    const applyBatch = (ops: readonly Op[]): Observable<Applied> =>
      ops.length === 0
        ? of([])
        : // defer: a driver that throws instead of returning is broken, and reported like one that errors.
          defer(() => options.apply(ops)).pipe(
            take(1),
            map((results) => ops.map((op, i) => ({ op, result: results[i] ?? NO_RESULT }))),
          );

    /** One apply, in two stages when the batch installs an override (override-stages.ts). */
    const startApply = (planned: NodeState, ops: readonly Op[]) => {
      inFlight = true;
      notifiedInFlight = [];
      let answered = false;
      const { first, rest } = splitBeforeOverride(planned, ops);
      applying = applyBatch(first)
        .pipe(
          concatMap((firstApplied) =>
            rest.length === 0
              ? of(firstApplied)
              : applyBatch(secondStage(planned, rest, firstApplied)).pipe(
                  map((restApplied) => [...firstApplied, ...restApplied]),
                ),
          ),
        )
        .subscribe({
          next: (applied) => {
            answered = true;
            const echoed = echoedResults(applied, notifiedInFlight);
            inFlight = false;
            notifiedInFlight = [];
            enqueue({
              type: "dataplane/applied",
              node: options.node,
              results: applied,
              ...(echoed.length === 0 ? {} : { echoed }),
            });
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            if (!answered)
              subscriber.error(new Error(`the dataplane answered nothing for ${ops.length} ops`));
          },
        });
    };

    const step = (body: EventBody) => {
      seq += 1;
      const event = { v: 1, seq, at: new Date(clock()).toISOString(), ...body } as EngineEvent;
      state = reduce(state, event);
      if (inFlight && event.type === "kernel/changed") notifiedInFlight.push(event.change);
      const ops = inFlight ? [] : plan(state);
      subscriber.next({
        event,
        state,
        ...(ops.length === 0 ? {} : { ops }),
        ...(event.type === "dataplane/applied" ? { results: event.results } : {}),
        ...(options.withDesired ? { desired: desiredTable(state) } : {}),
      });
      if (ops.length > 0) startApply(state, ops);
      scheduleRetry();
    };

    function enqueue(body: EventBody) {
      queue.push(body);
      if (draining) return;
      draining = true;
      try {
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
          if (subscriber.closed) return;
          step(next);
        }
      } finally {
        draining = false;
      }
      finishIfIdle();
    }

    const sources = merge(...options.sources.map((source) => from(source))).subscribe({
      next: enqueue,
      error: (error: unknown) => subscriber.error(error),
      complete: () => {
        sourcesDone = true;
        finishIfIdle();
      },
    });

    return () => {
      sources.unsubscribe();
      applying?.unsubscribe();
      retry?.timer.unsubscribe();
    };
  });
}
