/**
 * The agent's engine loop, until core's createEngine lands: event bodies from every
 * source are sequenced (v, seq, at from the injected clock), reduced, planned, and
 * applied one batch at a time; apply results come back as `dataplane/applied` events,
 * and a `retry` timer fires when core's backoff opens again.
 */
import {
  type EngineEvent,
  type EngineSettings,
  type EventBody,
  initialNodeState,
  type NodeState,
  nextRetryAt,
  type Op,
  type OpResult,
  plan,
  reduce,
} from "@kroute/core";
import { Observable } from "rxjs";

export interface EngineStep {
  readonly event: EngineEvent;
  readonly state: NodeState;
}

export interface EngineLoopOptions {
  readonly node: string;
  readonly settings: EngineSettings;
  readonly sources: Observable<EventBody>;
  apply(ops: readonly Op[]): Promise<readonly OpResult[]>;
  readonly clock: () => Date;
  /** Called with the ops of every apply and how long the kernel took. */
  onApplied?(ops: readonly Op[], results: readonly OpResult[], seconds: number): void;
}

export function engineLoop(options: EngineLoopOptions): Observable<EngineStep> {
  const { node } = options;
  return new Observable<EngineStep>((subscriber) => {
    let state = initialNodeState(node, options.settings);
    let seq = 0;
    let applying = false;
    let closed = false;
    let retryAt: string | undefined;
    let retryTimer: NodeJS.Timeout | undefined;

    const consume = (body: EventBody) => {
      if (closed) return;
      const event = { v: 1, seq: ++seq, at: options.clock().toISOString(), ...body } as EngineEvent;
      state = reduce(state, event);
      subscriber.next({ event, state });
      reconcile();
    };

    const scheduleRetry = () => {
      const next = nextRetryAt(state);
      if (next === retryAt) return;
      retryAt = next;
      clearTimeout(retryTimer);
      if (next === undefined) return;
      const delay = Math.max(0, Date.parse(next) - options.clock().getTime());
      retryTimer = setTimeout(() => {
        retryAt = undefined;
        consume({ type: "timer/fired", node, timer: "retry" });
      }, delay);
    };

    const reconcile = () => {
      if (applying || closed) return;
      scheduleRetry();
      const ops = plan(state);
      if (ops.length === 0) return;
      applying = true;
      const started = performance.now();
      options.apply(ops).then(
        (results) => {
          applying = false;
          options.onApplied?.(ops, results, (performance.now() - started) / 1000);
          consume({
            type: "dataplane/applied",
            node,
            results: ops.map((op, i) => ({ op, result: results[i] ?? missingResult })),
          });
        },
        (error: unknown) => subscriber.error(error),
      );
    };

    const subscription = options.sources.subscribe({
      next: consume,
      error: (error: unknown) => subscriber.error(error),
    });
    return () => {
      closed = true;
      clearTimeout(retryTimer);
      subscription.unsubscribe();
    };
  });
}

const missingResult: OpResult = {
  ok: false,
  errno: 5,
  code: "EIO",
  message: "the driver returned no result for this op",
};
