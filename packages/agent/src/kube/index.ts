export { type ApiServerEndpointsOptions, watchApiServerEndpoints } from "./api-server-endpoints.ts";
export { EventRecorder, type EventRecorderOptions, type Transition } from "./event-recorder.ts";
export {
  type KubeObject,
  type ListWatchEvent,
  type ListWatchSpec,
  type RestartReason,
  type SupervisorOptions,
  superviseListWatch,
  type WatchHooks,
} from "./list-watch.ts";
export {
  MAX_GATEWAYS,
  MAX_PROBLEMS,
  MAX_USED_BY,
  type NodeRouteTableGateway,
  type NodeRouteTableProblem,
  type NodeRouteTableStatus,
  NodeRouteTableWriter,
  type NodeRouteTableWriterOptions,
  nodeRouteTableStatus,
} from "./node-route-table.ts";
export { watchOwnNode } from "./own-node.ts";
export {
  type OwnNodeRouteTableWatchOptions,
  type OwnTableObservation,
  watchOwnNodeRouteTable,
} from "./own-node-route-table.ts";
export { type KubeCondition, type KubeRoute, RouteCache } from "./route-cache.ts";
export {
  acceptedCondition,
  conditionIsCurrent,
  RouteStatusWriter,
  type RouteStatusWriterOptions,
} from "./route-status.ts";
export { type RouteWatchOptions, toRouteObject, watchRoutes } from "./routes.ts";
export { FIELD_MANAGER } from "./ssa.ts";
export { type BackoffOptions, backoffDelay, type Random, realTimers, type Timers } from "./timing.ts";
