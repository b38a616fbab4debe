import { KubeApiError } from "./rest.ts";

/**
 * Time and randomness as parameters, so that backoff, watchdogs and write jitter can be
 * driven by tests; the defaults are the process's own timers and Math.random.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    // Timers alone never keep the agent alive; its HTTP server and watches do.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/** A number in [0, 1). */
export type Random = () => number;

export interface BackoffOptions {
  /** First delay. Default 500 ms. */
  readonly initialMs?: number;
  /** Ceiling. Default 30 s. */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /** Fraction of the delay that is random, 0..1. Default 0.5: a delay lands in [50 %, 100 %] of its step. */
  readonly jitter?: number;
}

/** Delay before retry number `attempt` (0-based): exponential, capped, jittered so that many nodes spread out. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: Random): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  const step = Math.min(max, initial * factor ** attempt);
  return step * (1 - jitter + jitter * random());
}

/**
 * The delay before retrying after `error`: the backoff, but never sooner than the
 * Retry-After the API server sent with it, and spread above that by the jitter fraction,
 * so that the thousands of clients one overloaded server turned away with the same
 * "1 second" do not all come back in that same second.
 */
export function retryDelay(attempt: number, options: BackoffOptions, random: Random, error: unknown): number {
  const backoff = backoffDelay(attempt, options, random);
  const retryAfter = error instanceof KubeApiError ? error.retryAfterMs : undefined;
  if (retryAfter === undefined) return backoff;
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  return Math.max(backoff, retryAfter * (1 + jitter * random()));
}

/** A sleep that can be cut short; resolves false when cancelled. */
export function cancellableSleep(
  timers: Timers,
  ms: number,
): { promise: Promise<boolean>; cancel: () => void } {
  let handle: unknown;
  let settle: (slept: boolean) => void = () => {};
  const promise = new Promise<boolean>((resolve) => {
    settle = resolve;
    handle = timers.setTimeout(() => resolve(true), ms);
  });
  return {
    promise,
    cancel: () => {
      timers.clearTimeout(handle);
      settle(false);
    },
  };
}
