/**
 * Route requests with Linux's flag semantics. Ops map to flags as a driver sends
 * them: add = NLM_F_CREATE|NLM_F_EXCL, replace = NLM_F_CREATE|NLM_F_REPLACE, delete;
 * `change` (NLM_F_REPLACE alone, `ip route change`) exists for conformance only.
 */
import {
  familyOf,
  type InlineNexthop,
  type KernelNexthop,
  type KernelRoute,
  maxPrefixLength,
  type OpResult,
  parsePrefix,
  prefixLength,
} from "@kroute/core";
import { type KernelError, kernelError, OK } from "./errno.ts";
import { isFdb } from "./nexthop-ops.ts";
import { checkDevice, checkGateway } from "./onlink.ts";
import {
  destinationKey,
  findRoute,
  type KernelState,
  observedRoute,
  putRoute,
  removeRoute,
  tableKey,
} from "./state.ts";

const SPECIAL_TYPES = new Set([
  "blackhole",
  "unreachable",
  "prohibit",
  "local",
  "broadcast",
  "throw",
  "anycast",
]);

function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffffffff;
}

function nexthopFamilies(state: KernelState, nexthop: KernelNexthop): number[] {
  if (nexthop.kind === "gateway") return [nexthop.family];
  if (nexthop.kind === "opaque") return [];
  return nexthop.members.flatMap((member) => {
    const inner = state.nexthops.get(member.id);
    return inner === undefined ? [] : nexthopFamilies(state, inner);
  });
}

function checkInline(
  state: KernelState,
  route: KernelRoute,
  nexthop: InlineNexthop,
): KernelError | undefined {
  if (!Number.isInteger(nexthop.weight) || nexthop.weight < 1 || nexthop.weight > 256) {
    return kernelError("EINVAL");
  }
  if (route.family === 6 && familyOf(nexthop.gateway) === 4) return kernelError("EINVAL");
  return checkGateway(state, route.table, nexthop.gateway, nexthop.dev, "route");
}

/**
 * Route objects whose destination was found well-formed (canonical, of the route's
 * family). Why: the core hands every node the same desired route objects, which are
 * never changed, so a simulation of 1,000 nodes parsed each destination 1,000 times.
 */
const wellFormedDestinations = new WeakSet<KernelRoute>();

function destinationIsWellFormed(route: KernelRoute): boolean {
  if (wellFormedDestinations.has(route)) return true;
  const dst = parsePrefix(route.dst);
  if (!dst.ok || dst.value !== route.dst || familyOf(route.dst) !== route.family) return false;
  if (prefixLength(route.dst) > maxPrefixLength(route.family)) return false;
  wellFormedDestinations.add(route);
  return true;
}

export function validateRoute(state: KernelState, route: KernelRoute): KernelError | undefined {
  if (!destinationIsWellFormed(route)) return kernelError("EINVAL");
  if (!isUint32(route.table) || route.table === 0 || !isUint32(route.metric)) return kernelError("EINVAL");
  if (!Number.isInteger(route.protocol) || route.protocol < 0 || route.protocol > 255)
    return kernelError("EINVAL");
  const target = route.target;
  switch (target.kind) {
    case "gateways": {
      if (target.nexthops.length === 0) return kernelError("EINVAL");
      for (const nexthop of target.nexthops) {
        const error = checkInline(state, route, nexthop);
        if (error !== undefined) return error;
      }
      return undefined;
    }
    case "nexthop-object": {
      if (!state.features.nexthopObjects) return kernelError("EINVAL", "Unknown attribute");
      const nexthop = state.nexthops.get(target.id);
      if (nexthop === undefined) return kernelError("EINVAL", "Nexthop id does not exist");
      if (isFdb(nexthop)) return kernelError("EINVAL", "Route cannot point to a fdb nexthop");
      if (route.family === 6 && nexthopFamilies(state, nexthop).includes(4)) {
        return kernelError("EINVAL", "IPv6 routes can not use an IPv4 nexthop");
      }
      return undefined;
    }
    case "device":
      return checkDevice(state, target.dev, "route", route.family);
    case "special":
      return SPECIAL_TYPES.has(target.type) ? undefined : kernelError("EINVAL");
  }
}

/** The stored form: linkdown is the kernel's to set, never the writer's. */
function stored(route: KernelRoute): KernelRoute {
  if (route.target.kind !== "gateways") return route;
  const nexthops = route.target.nexthops.map(({ linkdown: _ignored, ...nexthop }) => nexthop);
  return { ...route, target: { kind: "gateways", nexthops } };
}

/** IPv6 stores metric 0 as 1024 (IP6_RT_PRIO_USER), so the two are one key there. */
const IP6_RT_PRIO_USER = 1024;

function withKernelMetric(route: KernelRoute): KernelRoute {
  return route.family === 6 && route.metric === 0 ? { ...route, metric: IP6_RT_PRIO_USER } : route;
}

/** Linux creates the table before it checks the route: even a refused request leaves its table behind. */
function createTable(state: KernelState, route: KernelRoute): void {
  if (isUint32(route.table) && route.table > 0 && (route.family === 4 || route.family === 6)) {
    state.tables.add(tableKey(route.family, route.table));
  }
}

function install(state: KernelState, route: KernelRoute): OpResult {
  const value = stored(route);
  putRoute(state, value);
  state.emit({ kind: "route", action: "new", route: observedRoute(state, value) });
  return OK;
}

type Flags = "create-exclusive" | "create-replace" | "replace-only";

/**
 * One RTM_NEWROUTE. Linux creates the table, then builds (and so validates) the
 * route, and only then looks at the key: a bad route at a taken key is refused for
 * being bad, not for the key.
 */
function newRoute(state: KernelState, request: KernelRoute, flags: Flags): OpResult {
  const route = withKernelMetric(request);
  createTable(state, route);
  const error = validateRoute(state, route);
  if (error !== undefined) return error;
  const exists = findRoute(state, route) !== undefined;
  if (flags === "create-exclusive" && exists) return kernelError("EEXIST");
  if (flags === "replace-only" && !exists) {
    // IPv4 answers plain ENOENT, IPv6 adds an extack.
    return route.family === 4
      ? kernelError("ENOENT")
      : kernelError("ENOENT", "Can not replace route - no match found");
  }
  return install(state, route);
}

export function addRoute(state: KernelState, route: KernelRoute): OpResult {
  return newRoute(state, route, "create-exclusive");
}

export function replaceRoute(state: KernelState, route: KernelRoute): OpResult {
  return newRoute(state, route, "create-replace");
}

/** NLM_F_REPLACE without NLM_F_CREATE (`ip route change`). */
export function changeRoute(state: KernelState, route: KernelRoute): OpResult {
  return newRoute(state, route, "replace-only");
}

/**
 * Deletes the route at the key. The request names the protocol, as Linux matches
 * it when given: a route another owner put at the same key is not deleted (ESRCH).
 * Both families read metric 0 in a delete as "any metric" (IPv4's fib_nh_match
 * compares the priority only when one is given): an IPv4 route stored at metric 0
 * is the lowest, so its own delete still finds it first.
 */
export function deleteRoute(state: KernelState, route: KernelRoute): OpResult {
  if (!state.tables.has(tableKey(route.family, route.table)))
    return kernelError("ESRCH", "FIB table does not exist");
  const existing = route.metric === 0 ? anyMetric(state, route) : findRoute(state, route);
  if (existing === undefined || existing.protocol !== route.protocol) return kernelError("ESRCH");
  removeRoute(state, existing);
  state.emit({ kind: "route", action: "del", route: observedRoute(state, existing) });
  return OK;
}

/** The first (lowest-metric) route of the request's owner at its destination. */
function anyMetric(state: KernelState, route: KernelRoute): KernelRoute | undefined {
  const candidates = state.byDestination.get(destinationKey(route.family, route.table, route.dst)) ?? [];
  return candidates.find((c) => c.protocol === route.protocol);
}
