export { type ApiServerEndpointsOptions, watchApiServerEndpoints } from "./api-server-endpoints.ts";
export {
  type KubeObject,
  type ListWatchEvent,
  type ListWatchSpec,
  type RestartReason,
  type SupervisorOptions,
  superviseListWatch,
  type WatchHooks,
} from "./list-watch.ts";
export { watchOwnNode } from "./own-node.ts";
export { type KubeCondition, type KubeRoute, RouteCache } from "./route-cache.ts";
export { type RouteWatchOptions, toRouteObject, watchRoutes } from "./routes.ts";
export { type BackoffOptions, backoffDelay, type Random, realTimers, type Timers } from "./timing.ts";
