/**
 * Fault injection, which no real API server has: ending, stalling or slowing watches,
 * slowing every response, and failing the next requests with an error status.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ApiError } from "./errors.ts";
import type { RequestLogEntry } from "./request-log.ts";
import type { WatchStream } from "./watch-stream.ts";

export interface FailNextOptions {
  readonly status?: number;
  /** Only requests for which this is true fail (and count). */
  readonly match?: (entry: RequestLogEntry) => boolean;
  /** Answer with a Retry-After header (and details.retryAfterSeconds) of this many seconds. */
  readonly retryAfterSeconds?: number;
}

export interface KubeApiFaults {
  /** End every open watch: cleanly (the stream finishes) or abruptly (the connection is cut). */
  dropWatches(how?: "clean" | "abrupt"): number;
  /** Keep every open watch connected but send nothing more on it, bookmarks included. */
  stallWatches(): number;
  /**
   * Slow watches, open now or opened later: every event (bookmarks included) leaves `ms`
   * after it happened, in order, as through a congested watch cache or link. 0 ends it;
   * events already held back still leave in order. Returns the number of open watches.
   */
  slowWatches(ms: number): number;
  /** Delay every response by this long (its start: a watch's events are slowed by slowWatches). */
  setLatency(ms: number): void;
  /** Answer the next `n` (matching) requests with an error status, 500 by default. */
  failNext(n: number, options?: FailNextOptions): void;
  clear(): void;
}

/** Status reasons the API server uses with these codes (metav1.StatusReason). */
const INJECTED_REASONS: Readonly<Record<number, string>> = {
  409: "Conflict",
  410: "Expired",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export interface FaultInjector {
  /** What tests set. */
  readonly faults: KubeApiFaults;
  /** Before a request is looked at: fail it if a failure is due, else wait out the latency. */
  beforeRequest(entry: RequestLogEntry): Promise<void>;
  /** How late a watch event leaves now (slowWatches). */
  watchEventDelayMs(): number;
}

export function createFaultInjector(watches: ReadonlySet<WatchStream>): FaultInjector {
  let latencyMs = 0;
  let watchDelayMs = 0;
  let failures:
    | {
        left: number;
        status: number;
        match: (e: RequestLogEntry) => boolean;
        retryAfterSeconds: number | undefined;
      }
    | undefined;

  const faults: KubeApiFaults = {
    dropWatches(how = "abrupt") {
      const open = [...watches];
      for (const w of open) {
        if (how === "clean") w.end();
        else w.destroy();
      }
      return open.length;
    },
    stallWatches() {
      for (const w of watches) w.stall();
      return watches.size;
    },
    slowWatches(ms) {
      if (!(Number.isFinite(ms) && ms >= 0))
        throw new Error(`slowWatches: ms must be a number of milliseconds >= 0, got ${String(ms)}`);
      watchDelayMs = ms;
      return [...watches].filter((w) => !w.closed).length;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    failNext(n, opts = {}) {
      failures = {
        left: n,
        status: opts.status ?? 500,
        match: opts.match ?? (() => true),
        retryAfterSeconds: opts.retryAfterSeconds,
      };
    },
    clear() {
      latencyMs = 0;
      watchDelayMs = 0;
      failures = undefined;
    },
  };

  return {
    faults,
    async beforeRequest(entry) {
      if (failures !== undefined && failures.left > 0 && failures.match(entry)) {
        failures.left--;
        const reason = INJECTED_REASONS[failures.status] ?? "InternalError";
        throw new ApiError(
          failures.status,
          reason,
          `${reason}: injected by the test double`,
          failures.retryAfterSeconds,
        );
      }
      if (latencyMs > 0) await sleep(latencyMs);
    },
    watchEventDelayMs: () => watchDelayMs,
  };
}
