/**
 * Failures on the Kubernetes side, in the log: a list or watch restarting (its
 * supervisor retries it) and a status write refused or unanswered (its writer retries
 * it). Without them an agent the API server refuses (a missing RBAC rule, a wrong
 * token, no way through to it) said only "waiting for the first sync of: routes".
 *
 * Each Route's status is written and retried on its own, so an outage fails thousands
 * of writes a minute: each kind of write is logged at its first failure and then at
 * most once a minute, with the number of failures left unlogged in between; so are
 * Events dropped by the node's overall Event limit.
 */
import type { RestartReason } from "../kube/index.ts";
import type { Logger } from "../log.ts";

export type StatusWriteKind = "Route status" | "NodeRouteTable" | "Event";

export const STATUS_FAILURE_LOG_INTERVAL_MS = 60_000;

export interface KubeFailureLog {
  watchRestarted(watch: string, reason: RestartReason, error?: unknown): void;
  statusWriteFailed(kind: StatusWriteKind, subject: string, error: unknown): void;
  /** An Event over the node's overall Event limit was dropped. */
  eventDropped(reason: string, subject: string): void;
}

export function kubeFailureLog(log: Logger, now: () => number = Date.now): KubeFailureLog {
  const quiet = new Map<StatusWriteKind | "dropped Event", { until: number; unlogged: number }>();
  /** Whether `kind` may be logged now; if not, one more is counted for the next line. */
  const mayLog = (kind: StatusWriteKind | "dropped Event"): { unlogged: number } | undefined => {
    const at = now();
    const window = quiet.get(kind);
    if (window !== undefined && at < window.until) {
      window.unlogged += 1;
      return undefined;
    }
    quiet.set(kind, { until: at + STATUS_FAILURE_LOG_INTERVAL_MS, unlogged: 0 });
    return { unlogged: window?.unlogged ?? 0 };
  };
  return {
    watchRestarted(watch, reason, error) {
      switch (reason) {
        case "expired":
          log.info({ watch }, "Kubernetes %s watch expired (410 Gone): listing again", watch);
          return;
        case "stalled":
          log.warn({ watch }, "Kubernetes %s watch went silent: restarting it", watch);
          return;
        case "error":
          log.warn(
            { watch, err: String(error) },
            "Kubernetes %s list or watch failed, retrying: %s",
            watch,
            String(error),
          );
      }
    },
    statusWriteFailed(kind, subject, error) {
      const logged = mayLog(kind);
      if (logged === undefined) return;
      log.warn(
        { kind, subject, err: String(error), unloggedFailures: logged.unlogged },
        "%s write failed: %s",
        kind,
        String(error),
      );
    },
    eventDropped(reason, subject) {
      const logged = mayLog("dropped Event");
      if (logged === undefined) return;
      log.warn(
        { reason, subject, unloggedDrops: logged.unlogged },
        "Kubernetes Event %s about %s dropped: this node's Events are over their overall limit (kroute_kubernetes_events_dropped_total counts them)",
        reason,
        subject,
      );
    },
  };
}
