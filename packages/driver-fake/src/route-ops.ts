/**
 * Route requests with Linux's flag semantics. Ops map to flags as a driver sends
 * them: add = NLM_F_CREATE|NLM_F_EXCL, replace = NLM_F_CREATE|NLM_F_REPLACE, delete.
 * Other programs also send what kroute never does (FakeKernel.routeRequestSync): `ip
 * route change` (NLM_F_REPLACE alone), `append` (NLM_F_CREATE|NLM_F_APPEND) and
 * `prepend` (NLM_F_CREATE), which put a second route at a taken key (route-append.ts).
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
  tosOutOfRange,
} from "@kroute/core";
import { type KernelError, kernelError, OK } from "./errno.ts";
import { isFdb } from "./nexthop-ops.ts";
import { checkDevice, checkGateway } from "./onlink.ts";
import { appendAtKey, inlineGateways, sameRoute } from "./route-append.ts";
import {
  appendRoute,
  destinationKey,
  type KernelState,
  observedRoute,
  removeRoute,
  routesAtKey,
  sameKey,
  swapRoute,
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

/**
 * The TOS, which Linux reads before anything else of a request (before it creates the
 * table, in a delete too): IPv6 has none, and IPv4's must leave the ECN bits clear.
 */
function checkTos(route: KernelRoute): KernelError | undefined {
  const tos = route.tos ?? 0;
  const unsendable = unsendableTos(route);
  if (unsendable !== undefined) return unsendable;
  if (tos === 0) return undefined;
  if (route.family === 6)
    return kernelError("EINVAL", "Invalid dsfield (tos): option not available for IPv6");
  return (tos & ECN_BITS) === 0
    ? undefined
    : kernelError("EINVAL", "Invalid dsfield (tos): ECN bits must be 0");
}

const ECN_BITS = 0x3;

/**
 * A TOS rtm_tos cannot hold: no request could carry it, so a driver refuses the op
 * before it sends any of it (a move's delete included), naming the field and value.
 */
export function unsendableTos(route: KernelRoute): KernelError | undefined {
  const outOfRange = tosOutOfRange(route.tos ?? 0);
  return outOfRange === undefined ? undefined : kernelError("EINVAL", outOfRange);
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

export function withKernelMetric(route: KernelRoute): KernelRoute {
  return route.family === 6 && route.metric === 0 ? { ...route, metric: IP6_RT_PRIO_USER } : route;
}

/** Linux creates the table before it checks the route: even a refused request leaves its table behind. */
function createTable(state: KernelState, route: KernelRoute): void {
  if (isUint32(route.table) && route.table > 0 && (route.family === 4 || route.family === 6)) {
    state.tables.add(tableKey(route.family, route.table));
  }
}

function announce(state: KernelState, route: KernelRoute): OpResult {
  state.emit({ kind: "route", action: "new", route: observedRoute(state, route) });
  return OK;
}

/** A route that took another's place at its key: Linux announces it with NLM_F_REPLACE. */
function announceReplaced(state: KernelState, route: KernelRoute): OpResult {
  state.emit({ kind: "route", action: "new", route: observedRoute(state, route), replaced: true });
  return OK;
}

/** The flags of one RTM_NEWROUTE: see the file's comment. */
export type RouteFlags = "create-exclusive" | "create-replace" | "replace-only" | "append" | "prepend";

/**
 * One RTM_NEWROUTE. Linux reads the TOS, creates the table, then builds (and so
 * validates) the route, and only then looks at the key: a bad route at a taken key is
 * refused for being bad, not for the key.
 */
export function newRoute(state: KernelState, request: KernelRoute, flags: RouteFlags): OpResult {
  const route = withKernelMetric(request);
  const tosError = checkTos(route);
  if (tosError !== undefined) return tosError;
  createTable(state, route);
  const error = validateRoute(state, route);
  if (error !== undefined) return error;
  const value = stored(route);
  const atKey = routesAtKey(state, value);
  if (atKey.length === 0) {
    if (flags === "replace-only") {
      // IPv4 answers plain ENOENT, IPv6 adds an extack.
      return route.family === 4
        ? kernelError("ENOENT")
        : kernelError("ENOENT", "Can not replace route - no match found");
    }
    appendRoute(state, value);
    return announce(state, value);
  }
  switch (flags) {
    case "create-exclusive":
      return kernelError("EEXIST");
    case "create-replace":
    case "replace-only":
      return replaceAtKey(state, atKey, value);
    case "append":
    case "prepend":
      return appendAtKey(state, atKey, value, flags);
  }
}

/**
 * A replace at a taken key. IPv4 (fib_table_insert) replaces the first route of the
 * key, whoever owns it; a route just like the request (owner, scope, source, target)
 * already there is "done" when it is that first one (and nothing is announced), EEXIST
 * when it is a later one. IPv6 (fib6_add_rt2node) replaces the first route of the
 * request's kind (through gateways inline, or not), else the first.
 */
function replaceAtKey(state: KernelState, atKey: readonly KernelRoute[], route: KernelRoute): OpResult {
  const first = atKey[0] as KernelRoute;
  if (route.family === 4) {
    const same = atKey.find((other) => sameRoute(other, route));
    if (same !== undefined) return same === first ? OK : kernelError("EEXIST");
    swapRoute(state, first, route);
    return announceReplaced(state, route);
  }
  const kind = atKey.find((other) => inlineGateways(other) === inlineGateways(route)) ?? first;
  swapRoute(state, kind, route);
  return announceReplaced(state, route);
}

export function addRoute(state: KernelState, route: KernelRoute): OpResult {
  return newRoute(state, route, "create-exclusive");
}

export function replaceRoute(state: KernelState, route: KernelRoute): OpResult {
  return newRoute(state, route, "create-replace");
}

/**
 * Deletes the first route of the key that the request's owner holds: the request
 * names the protocol and Linux matches it (a route another owner put at the same key
 * is not deleted: ESRCH), walking past others' routes at that key to the owner's.
 * Both families read metric 0 in a delete as "any metric" (IPv4's fib_nh_match
 * compares the priority only when one is given): an IPv4 route stored at metric 0 is
 * the lowest, so its own delete still finds it first. The TOS must match (IPv6 refuses
 * one as it does in an add).
 */
export function deleteRoute(state: KernelState, route: KernelRoute): OpResult {
  const tosError = checkTos(route);
  if (tosError !== undefined) return tosError;
  if (!state.tables.has(tableKey(route.family, route.table)))
    return kernelError("ESRCH", "FIB table does not exist");
  const existing = candidates(state, route).find((candidate) => candidate.protocol === route.protocol);
  if (existing === undefined) return kernelError("ESRCH");
  removeRoute(state, existing);
  state.emit({ kind: "route", action: "del", route: observedRoute(state, existing) });
  return OK;
}

/** The routes a delete may take, in the kernel's order: those of its key, or of its TOS at any metric. */
function candidates(state: KernelState, route: KernelRoute): readonly KernelRoute[] {
  if (route.metric !== 0) return routesAtKey(state, route);
  const routes = state.byDestination.get(destinationKey(route.family, route.table, route.dst)) ?? [];
  return routes.filter((candidate) => sameKey(candidate, { ...route, metric: candidate.metric }));
}
