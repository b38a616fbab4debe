/**
 * The cluster side of the agent from the Kubernetes API: Routes (cluster-wide, in the
 * configured API group), the agent's own Node, and the API servers' endpoints, each
 * under the kube helpers' supervisor, with watch restarts counted in the metrics.
 */
import { KubeConfig } from "@kubernetes/client-node";
import {
  type RouteCache,
  type SupervisorOptions,
  watchApiServerEndpoints,
  watchOwnNode,
  watchRoutes,
} from "../kube/index.ts";
import type { AgentMetrics } from "../metrics.ts";
import type { AgentSettings } from "../settings.ts";
import type { ClusterSources } from "./agent.ts";

/** In-cluster config in a pod; --kubeconfig, else KUBECONFIG or ~/.kube/config elsewhere. */
export function loadKubeConfig(settings: Pick<AgentSettings, "kubeconfig">): KubeConfig {
  const kc = new KubeConfig();
  if (settings.kubeconfig !== undefined) kc.loadFromFile(settings.kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST !== undefined) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export function kubeClusterSources(
  kc: KubeConfig,
  settings: Pick<AgentSettings, "apiGroup" | "apiVersion" | "nodeName">,
  metrics: AgentMetrics,
  options: { cache?: RouteCache; supervisor?: SupervisorOptions } = {},
): ClusterSources {
  const hooks = { restarted: (watch: string) => metrics.watchRestarted(watch) };
  const supervisor = { ...options.supervisor, hooks };
  return {
    routes: watchRoutes(kc, {
      ...supervisor,
      group: settings.apiGroup,
      version: settings.apiVersion,
      ...(options.cache !== undefined ? { cache: options.cache } : {}),
    }),
    node: watchOwnNode(kc, settings.nodeName, supervisor),
    apiServers: watchApiServerEndpoints(kc, supervisor),
  };
}
