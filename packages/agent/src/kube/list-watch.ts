/**
 * A supervised list+watch loop (requests: rest.ts), because client-node's own informer
 * stops for good on any error other than 410. Every failure leads back here:
 *
 * - list (paged-list.ts) at the resourceVersion client-go's reflector would ask for:
 *   "0" first, then the last one seen, both served from the API server's watch cache;
 *   "" (a consistent read from etcd) only after one of those answered that it cannot
 *   serve it (410, too large), which is retried at once;
 * - list fails otherwise → retry with jittered exponential backoff, never sooner than
 *   the Retry-After the API server sent (429, 5xx);
 * - each successful list → a full snapshot (`synced`), readiness after the first;
 * - watch from the list's resourceVersion, with bookmarks, a server-side timeout, and
 *   a stall watchdog: no event or bookmark for `stallTimeoutMs` → restart from the
 *   last resourceVersion seen;
 * - 410 Gone (as an ERROR event or an HTTP status) → relist after a random delay of up
 *   to `relistSpreadMs` (with backoff when the relisted watch expires again before
 *   delivering anything);
 * - any other watch error → backoff, then watch again from the last resourceVersion;
 * - the server ending a watch normally: on its timeout → watch again at once (the
 *   timeouts are drawn at random, so those ends are already spread); before it (an API
 *   server shutting down closes every watch it holds) → watch again after a random
 *   delay of up to `rewatchSpreadMs`.
 */
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { Observable } from "rxjs";
import {
  DEFAULT_LIST_PAGE_SIZE,
  isResourceVersionUnavailable,
  listInPages,
  listResourceVersion,
} from "./paged-list.ts";
import { KubeApiError, KubeClient } from "./rest.ts";
import {
  type BackoffOptions,
  cancellableSleep,
  type Random,
  realTimers,
  retryDelay,
  type Timers,
} from "./timing.ts";

/** The fields of any Kubernetes object the loop itself reads. */
export interface KubeObject {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
}

export type RestartReason = "error" | "stalled" | "expired";

export interface WatchHooks {
  /** A list or watch failed or stalled and is being restarted (for kroute_watch_restarts_total). */
  readonly restarted?: (watch: string, reason: RestartReason, error?: unknown) => void;
  /** A list completed: a full snapshot was emitted. */
  readonly synced?: (watch: string) => void;
  /** Anything arrived on a watch, bookmarks included (for the time of the last event). */
  readonly activity?: (watch: string) => void;
}

export interface SupervisorOptions {
  readonly backoff?: BackoffOptions;
  /** No event or bookmark for this long means the watch is stuck. Default 150 s (bookmarks come about every 60 s). */
  readonly stallTimeoutMs?: number;
  /** Objects per page of a list (limit and continue). Default 500, as client-go. */
  readonly listPageSize?: number;
  /**
   * A relist after 410 Gone waits a random delay up to this. An API server restarted
   * with a fresh watch cache expires every agent's watch in the same second, and their
   * lists (the heaviest request they make) would all land in that second too. Default 5 s.
   */
  readonly relistSpreadMs?: number;
  /**
   * A watch the server ended cleanly before its timeout is opened again after a random
   * delay up to this. An API server restarting (a rolling upgrade) closes every watch
   * it holds at once, and every agent would be back on the next one in the same
   * instant, as client-go's reflector is (its backoff, 800 ms doubling, applies only to
   * watches that fail). Watches ended by their timeout are the routine case and are not
   * delayed. Default 1 s.
   */
  readonly rewatchSpreadMs?: number;
  /** Server-side watch timeout, drawn at random in this range to spread reconnects. Default 300..600 s. */
  readonly watchTimeoutSeconds?: readonly [number, number];
  readonly hooks?: WatchHooks;
  readonly timers?: Timers;
  readonly random?: Random;
}

export interface ListWatchSpec {
  /** Names this watch in hooks and metrics: "routes", "node", "node-route-table", "apiserver-endpoints". */
  readonly name: string;
  /** The collection path to watch, e.g. `/api/v1/nodes`. */
  readonly path: string;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
}

export type ListWatchEvent<T> =
  | { readonly type: "synced"; readonly items: readonly T[] }
  | { readonly type: "added" | "modified" | "deleted"; readonly object: T };

type WatchOutcome =
  | { readonly kind: "closed"; readonly rv: string; readonly delivered: number }
  | { readonly kind: "stalled"; readonly rv: string }
  | { readonly kind: "expired" }
  | { readonly kind: "error"; readonly rv: string; readonly error: unknown }
  | { readonly kind: "stopped" };

interface StatusLike {
  readonly code?: number;
  readonly message?: string;
}

function statusCodeOf(err: unknown): number | undefined {
  return err instanceof KubeApiError ? err.code : undefined;
}

/** A watch ended by the server faster than this, having delivered nothing, counts as a failure (no hot loop). */
const MIN_HEALTHY_WATCH_MS = 1000;

export function superviseListWatch<T extends KubeObject>(
  kc: KubeConfig,
  spec: ListWatchSpec,
  options: SupervisorOptions = {},
): Observable<ListWatchEvent<T>> {
  const timers = options.timers ?? realTimers;
  const random = options.random ?? Math.random;
  const stallTimeoutMs = options.stallTimeoutMs ?? 150_000;
  const relistSpreadMs = options.relistSpreadMs ?? 5000;
  const rewatchSpreadMs = options.rewatchSpreadMs ?? 1000;
  const [minTimeout, maxTimeout] = options.watchTimeoutSeconds ?? [300, 600];
  const hooks = options.hooks ?? {};
  const pageSize = options.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
  if (!Number.isSafeInteger(pageSize) || pageSize < 1)
    throw new Error(`superviseListWatch: listPageSize ${pageSize} is not a positive integer`);
  const client = KubeClient.for(kc);
  const selectors = { fieldSelector: spec.fieldSelector, labelSelector: spec.labelSelector };

  return new Observable<ListWatchEvent<T>>((subscriber) => {
    let stopped = false;
    let cancelWait: (() => void) | undefined;
    /** Consecutive failures, for the backoff; only a working watch (an event or a bookmark) resets it. */
    let failures = 0;
    /** Changes delivered since the last list: a watch that expires before any means 410s in a loop. */
    let deliveredSinceList = 0;
    let listedAfterExpiry = false;
    /** The last resourceVersion a list, event or bookmark brought: where a relist starts. */
    let lastSeenRv: string | undefined;
    /** A list at lastSeenRv was refused (410, too large): the next one reads the latest. */
    let lastSeenUnavailable = false;

    const wait = async (ms: number): Promise<boolean> => {
      const sleep = cancellableSleep(timers, ms);
      cancelWait = sleep.cancel;
      const slept = await sleep.promise;
      cancelWait = undefined;
      return slept && !stopped;
    };
    const restartAfterBackoff = (reason: RestartReason, error?: unknown): Promise<boolean> => {
      hooks.restarted?.(spec.name, reason, error);
      return wait(retryDelay(failures++, options.backoff ?? {}, random, error));
    };

    const watchOnce = (rv: string, timeoutSeconds: number): Promise<WatchOutcome> =>
      new Promise<WatchOutcome>((resolve) => {
        let lastRv = rv;
        let delivered = 0;
        let settled = false;
        const controller = new AbortController();
        let watchdog: unknown;
        const finish = (outcome: WatchOutcome) => {
          if (settled) return;
          settled = true;
          timers.clearTimeout(watchdog);
          cancelWait = undefined;
          controller.abort();
          resolve(outcome);
        };
        const arm = () => {
          timers.clearTimeout(watchdog);
          watchdog = timers.setTimeout(() => finish({ kind: "stalled", rv: lastRv }), stallTimeoutMs);
        };
        cancelWait = () => finish({ kind: "stopped" });
        arm();
        const query: Record<string, string | number | boolean> = {
          resourceVersion: rv,
          allowWatchBookmarks: true,
          timeoutSeconds,
        };
        if (spec.fieldSelector !== undefined) query.fieldSelector = spec.fieldSelector;
        if (spec.labelSelector !== undefined) query.labelSelector = spec.labelSelector;
        const onEvent = (phase: string, obj: unknown) => {
          if (settled || typeof obj !== "object" || obj === null) return;
          arm();
          hooks.activity?.(spec.name);
          const object = obj as T & StatusLike;
          switch (phase) {
            case "ADDED":
            case "MODIFIED":
            case "DELETED": {
              lastRv = object.metadata?.resourceVersion ?? lastRv;
              lastSeenRv = lastRv;
              delivered++;
              deliveredSinceList++;
              failures = 0;
              const type = phase === "ADDED" ? "added" : phase === "MODIFIED" ? "modified" : "deleted";
              subscriber.next({ type, object });
              return;
            }
            case "BOOKMARK":
              lastRv = object.metadata?.resourceVersion ?? lastRv;
              lastSeenRv = lastRv;
              failures = 0;
              return;
            case "ERROR":
              if (object.code === 410) finish({ kind: "expired" });
              else
                finish({
                  kind: "error",
                  rv: lastRv,
                  error: new Error(`watch ${spec.name}: ${object.message ?? "error event"}`),
                });
              return;
            default:
              return;
          }
        };
        client.watch(spec.path, query, onEvent, controller.signal).then(
          () => finish({ kind: "closed", rv: lastRv, delivered }),
          (err: unknown) =>
            finish(
              statusCodeOf(err) === 410 ? { kind: "expired" } : { kind: "error", rv: lastRv, error: err },
            ),
        );
      });

    /**
     * Lists and emits the snapshot; returns the resourceVersion the watch starts from.
     * A function of its own so that the list is garbage once emitted: a local of the
     * long-running loop below would stay alive in its frame until the next relist.
     */
    const listAndEmit = async (): Promise<string | undefined> => {
      const resourceVersion = listResourceVersion(lastSeenRv, lastSeenUnavailable);
      const list = await listInPages<T>(client, spec.path, selectors, pageSize, resourceVersion);
      if (stopped) return undefined;
      lastSeenRv = list.resourceVersion;
      lastSeenUnavailable = false;
      deliveredSinceList = 0;
      subscriber.next({ type: "synced", items: list.items });
      hooks.synced?.(spec.name);
      return list.resourceVersion;
    };

    const run = async (): Promise<void> => {
      while (!stopped) {
        let rv: string;
        try {
          const listed = await listAndEmit();
          if (listed === undefined) return;
          rv = listed;
        } catch (err) {
          if (stopped) return;
          if (isResourceVersionUnavailable(err) && !lastSeenUnavailable) {
            // As client-go: at once, from etcd; a failure of that one backs off.
            lastSeenUnavailable = true;
            hooks.restarted?.(spec.name, "expired", err);
            continue;
          }
          if (!(await restartAfterBackoff("error", err))) return;
          continue;
        }
        let relist = false;
        while (!stopped && !relist) {
          if (deliveredSinceList > 0) listedAfterExpiry = false;
          const startedAt = timers.now();
          const timeoutSeconds = Math.round(minTimeout + (maxTimeout - minTimeout) * random());
          const outcome = await watchOnce(rv, timeoutSeconds);
          switch (outcome.kind) {
            case "stopped":
              return;
            case "closed": {
              rv = outcome.rv;
              const lasted = timers.now() - startedAt;
              if (outcome.delivered === 0 && lasted < MIN_HEALTHY_WATCH_MS) {
                if (!(await restartAfterBackoff("error", new Error(`watch ${spec.name} closed at once`))))
                  return;
              } else if (lasted < timeoutSeconds * 1000) {
                if (!(await wait(random() * rewatchSpreadMs))) return;
              }
              break;
            }
            case "stalled":
              rv = outcome.rv;
              hooks.restarted?.(spec.name, "stalled");
              break;
            case "expired":
              relist = true;
              // Backoff when the previous relist expired straight away too; else only the spread.
              if (listedAfterExpiry && deliveredSinceList === 0) {
                if (!(await restartAfterBackoff("expired"))) return;
              } else {
                hooks.restarted?.(spec.name, "expired");
                if (!(await wait(random() * relistSpreadMs))) return;
              }
              listedAfterExpiry = true;
              break;
            case "error":
              rv = outcome.rv;
              if (!(await restartAfterBackoff("error", outcome.error))) return;
              break;
          }
        }
      }
    };

    run().catch((err: unknown) => subscriber.error(err));
    return () => {
      stopped = true;
      cancelWait?.();
    };
  });
}
