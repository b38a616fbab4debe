/**
 * The cluster side of the agent from the Kubernetes API: Routes (cluster-wide, in the
 * configured API group), the agent's own Node, and the API servers' endpoints, each
 * under the kube helpers' supervisor, with watch restarts counted in the metrics and
 * logged with what failed (as are failed status writes, counted by kind); and
 * what goes back: Route status, the node's NodeRouteTable, Events. The NodeRouteTable
 * is watched too, for its writer only: the agent keeps it there, whoever deletes it.
 */
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import {
  EventRecorder,
  NodeRouteTableWriter,
  type RestartReason,
  RouteCache,
  RouteStatusWriter,
  type SupervisorOptions,
  watchApiServerEndpoints,
  watchOwnNode,
  watchOwnNodeRouteTable,
  watchRoutes,
} from "../kube/index.ts";
import type { Logger } from "../log.ts";
import type { AgentMetrics } from "../metrics.ts";
import { type AgentSettings, SettingsError } from "../settings.ts";
import type { ClusterSources } from "./agent.ts";
import { kubeFailureLog } from "./kube-failure-log.ts";

/**
 * --kubeconfig when given; in a pod (KUBERNETES_SERVICE_HOST set) the in-cluster config:
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT with the service account's
 * token and CA from /var/run/secrets/kubernetes.io/serviceaccount (under
 * `serviceAccountRoot`, for tests); else KUBECONFIG or ~/.kube/config.
 */
export function loadKubeConfig(
  settings: Pick<AgentSettings, "kubeconfig">,
  serviceAccountRoot = "",
): KubeConfig {
  const kc = new KubeConfig();
  if (settings.kubeconfig !== undefined) loadFromFlag(kc, settings.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST !== undefined) kc.loadFromCluster(serviceAccountRoot);
  else kc.loadFromDefault();
  return kc;
}

/** A --kubeconfig that cannot be read or parsed is a bad setting: named, with no stack trace. */
function loadFromFlag(kc: KubeConfig, file: string): void {
  try {
    kc.loadFromFile(file);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new SettingsError(`--kubeconfig: ${JSON.stringify(file)} cannot be loaded: ${why}`);
  }
}

/** How long a stop waits for status writes in flight. */
const CLOSE_GRACE_MS = 2000;

export interface KubeSideOptions {
  readonly supervisor?: SupervisorOptions;
  /** Status writers' pacing, shorter in tests. */
  readonly statusJitterMs?: number;
  readonly tableMinIntervalMs?: number;
}

export function kubeClusterSources(
  kc: KubeConfig,
  settings: Pick<AgentSettings, "apiGroup" | "apiVersion" | "nodeName" | "apiServerNamespace">,
  metrics: AgentMetrics,
  log: Logger,
  options: KubeSideOptions = {},
): ClusterSources {
  const failures = kubeFailureLog(log);
  const hooks = {
    restarted: (watch: string, reason: RestartReason, error?: unknown) => {
      metrics.watchRestarted(watch);
      failures.watchRestarted(watch, reason, error);
    },
  };
  const supervisor = { ...options.supervisor, hooks };
  const group = settings.apiGroup;
  const version = settings.apiVersion;
  const cache = new RouteCache();
  const routeStatus = new RouteStatusWriter({
    kc,
    group,
    version,
    cache,
    onError: (route, error) => {
      metrics.statusWriteFailed("route_status");
      failures.statusWriteFailed("Route status", route, error);
    },
    onWritten: (route, condition) => {
      if (condition.status === "False")
        events.routeRefused(
          route,
          condition.observedGeneration,
          condition.message ?? condition.reason ?? "invalid",
        );
    },
    ...(options.statusJitterMs !== undefined ? { jitterMs: options.statusJitterMs } : {}),
  });
  const table = new NodeRouteTableWriter({
    kc,
    nodeName: settings.nodeName,
    group,
    version,
    onError: (error) => {
      metrics.statusWriteFailed("node_route_table");
      failures.statusWriteFailed("NodeRouteTable", settings.nodeName, error);
    },
    ...(options.tableMinIntervalMs !== undefined ? { minIntervalMs: options.tableMinIntervalMs } : {}),
  });
  // For as long as the writer writes (till close), not only while the engine runs.
  const tableWatch = watchOwnNodeRouteTable(kc, settings.nodeName, {
    ...supervisor,
    group,
    version,
  }).subscribe((seen) => table.tableObserved(seen));
  const events = new EventRecorder({
    kc,
    nodeName: settings.nodeName,
    routeApiVersion: `${group}/${version}`,
    onError: (error) => {
      metrics.statusWriteFailed("event");
      failures.statusWriteFailed("Event", settings.nodeName, error);
    },
    onDropped: ({ reason, subject }) => {
      metrics.kubernetesEventDropped();
      failures.eventDropped(reason, subject);
    },
  });
  return {
    routes: watchRoutes(kc, { ...supervisor, group, version, cache }),
    node: watchOwnNode(kc, settings.nodeName, supervisor, (uid) => table.nodeSeen(uid)),
    apiServers: watchApiServerEndpoints(kc, { ...supervisor, namespace: settings.apiServerNamespace }),
    status: [routeStatus, table, events],
    async close() {
      // A table deleted from here on is no longer the agent's to bring back.
      tableWatch.unsubscribe();
      // Finish what is being written, then stop; but never hold up a shutdown for long
      // (during an API outage the writers would retry forever).
      const settled = Promise.all([routeStatus.settled(), table.settled(), events.settled()]);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise((done) => {
        timer = setTimeout(done, CLOSE_GRACE_MS);
      });
      await Promise.race([settled, deadline]);
      clearTimeout(timer);
      routeStatus.close();
      table.close();
      events.close();
    },
  };
}
