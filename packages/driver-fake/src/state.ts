/**
 * The fake kernel's mutable state and the small helpers every operation shares.
 * Routes are stored keyed as Linux keys them (family, table, dst, priority) and also
 * indexed by destination for lookups.
 */
import type {
  DataplaneFeatures,
  Family,
  InlineNexthop,
  KernelAddress,
  KernelChange,
  KernelLink,
  KernelNexthop,
  KernelRoute,
  KernelRule,
  MultipathHashPolicy,
  RouteKey,
} from "@kroute/core";
import { prefixLength, sharedRouteKey } from "@kroute/core";
import type { KernelError } from "./errno.ts";
import type { BucketTable } from "./resilient-buckets.ts";

export const RTPROT_KERNEL = 2;
export const RT_TABLE_MAIN = 254;
export const RT_TABLE_LOCAL = 255;
export const RT_TABLE_DEFAULT = 253;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;

export interface KernelState {
  readonly links: Map<string, KernelLink>;
  nextLinkIndex: number;
  addresses: KernelAddress[];
  /**
   * The routes: `family|table|dst` to the routes of that destination, lowest metric
   * first (a route's key adds the metric). The only store, no second map by full key:
   * a simulated node holds thousands of routes, a replay a million (sim-scale).
   */
  readonly byDestination: Map<string, readonly KernelRoute[]>;
  /** `family|table` to how many destinations there are of each prefix length: lookups try only these. */
  readonly prefixLengths: Map<string, Map<number, number>>;
  /**
   * Nexthop object id to the routes pointing at it: a nexthop replace
   * re-announces them and a nexthop removal drops them, without a scan of every route
   * (a simulated node holds thousands; its gateway flaps replace groups all the time).
   */
  readonly byNexthop: Map<number, Set<KernelRoute>>;
  /** Routes straight out of a device (connected routes, mostly), by key and device: what makes an IPv4 gateway on-link. */
  readonly deviceRoutes: Map<string, KernelRoute>;
  /** Answers of the gateway check by the gateway's family, until `forgetGatewayVerdicts`. */
  readonly onlinkVerdicts: Record<Family, Map<string, KernelError | undefined>>;
  /** `family|table` of every table that exists: main and local from the start, others from their first request. */
  readonly tables: Set<string>;
  readonly nexthops: Map<number, KernelNexthop>;
  readonly buckets: Map<number, BucketTable>;
  rules: KernelRule[];
  readonly hashPolicy: Record<Family, MultipathHashPolicy>;
  readonly features: DataplaneFeatures;
  /** Seconds; advances only when told. */
  now: number;
  readonly emit: (change: KernelChange) => void;
}

export function tableKey(family: Family, table: number): string {
  return `${family}|${table}`;
}

export function destinationKey(family: Family, table: number, dst: string): string {
  return `${family}|${table}|${dst}`;
}

function countPrefixLength(state: KernelState, route: KernelRoute, delta: 1 | -1): void {
  const tableKey = `${route.family}|${route.table}`;
  let counts = state.prefixLengths.get(tableKey);
  if (counts === undefined) {
    counts = new Map();
    state.prefixLengths.set(tableKey, counts);
  }
  const length = prefixLength(route.dst);
  const count = (counts.get(length) ?? 0) + delta;
  if (count === 0) counts.delete(length);
  else counts.set(length, count);
}

/**
 * A stored route's destination key, made once per route object. Why: the core hands
 * every node the same desired route objects, so a simulation of 1,000 nodes stores
 * each route in 1,000 fake kernels; a shared key costs nothing per kernel, where keys
 * built per kernel were most of its memory (scripts/bench/sim-scale.ts).
 */
const destinationKeys = new WeakMap<RouteKey, string>();
function routeDestinationKey(route: KernelRoute): string {
  let key = destinationKeys.get(route);
  if (key === undefined) {
    key = destinationKey(route.family, route.table, route.dst);
    destinationKeys.set(route, key);
  }
  return key;
}

/** Device routes by key and device: several links may hold one key (see appendRoute). */
function deviceRouteKey(route: KernelRoute, dev: string): string {
  return `${sharedRouteKey(route)}|${dev}`;
}

/**
 * The route stored at a key (family, table, dst, metric); the first, when several are.
 * The key is most often a route object that was stored before (ops carry the core's
 * shared objects): its cached key spares building the string again for every op.
 */
export function findRoute(state: KernelState, key: RouteKey): KernelRoute | undefined {
  return state.byDestination
    .get(destinationKeys.get(key) ?? destinationKey(key.family, key.table, key.dst))
    ?.find((route) => route.metric === key.metric);
}

/** Every stored route. */
export function* allRoutes(state: KernelState): Generator<KernelRoute> {
  for (const routes of state.byDestination.values()) yield* routes;
}

/** Stores a route, replacing whatever held its key. */
export function putRoute(state: KernelState, route: KernelRoute): void {
  const previous = state.byDestination
    .get(routeDestinationKey(route))
    ?.find((other) => other.metric === route.metric);
  if (previous !== undefined) removeRoute(state, previous);
  appendRoute(state, route);
}

/**
 * Stores a route after any at its key. Only the kernel's own connected routes need it:
 * Linux adds them without NLM_F_EXCL, so each link's `fe80::/64 metric 256`, or each of
 * two links' routes to one IPv4 subnet, stands beside the others' (a request from
 * outside gets EEXIST instead).
 */
export function appendRoute(state: KernelState, route: KernelRoute): void {
  const destination = routeDestinationKey(route);
  if (route.target.kind === "nexthop-object") {
    let routes = state.byNexthop.get(route.target.id);
    if (routes === undefined) {
      routes = new Set();
      state.byNexthop.set(route.target.id, routes);
    }
    routes.add(route);
  }
  if (route.target.kind === "device") state.deviceRoutes.set(deviceRouteKey(route, route.target.dev), route);
  if (steersGatewayChecks(route)) forgetGatewayVerdicts(state, route.family);
  const others = state.byDestination.get(destination);
  if (others === undefined) {
    state.byDestination.set(destination, [route]);
    countPrefixLength(state, route, 1);
  } else {
    // Arrays rather than a Map per destination: nearly every destination holds one route.
    state.byDestination.set(
      destination,
      [...others, route].sort((a, b) => a.metric - b.metric),
    );
  }
}

/** Removes a stored route (the object `findRoute` or `allRoutes` gave). */
export function removeRoute(state: KernelState, route: KernelRoute): void {
  if (route.target.kind === "nexthop-object") {
    const routes = state.byNexthop.get(route.target.id);
    routes?.delete(route);
    if (routes?.size === 0) state.byNexthop.delete(route.target.id);
  }
  if (route.target.kind === "device") state.deviceRoutes.delete(deviceRouteKey(route, route.target.dev));
  if (steersGatewayChecks(route)) forgetGatewayVerdicts(state, route.family);
  const destination = routeDestinationKey(route);
  const others = state.byDestination.get(destination);
  if (others === undefined) return;
  const left = others.filter((other) => other !== route);
  if (left.length > 0) {
    state.byDestination.set(destination, left);
  } else {
    state.byDestination.delete(destination);
    countPrefixLength(state, route, -1);
  }
}

/**
 * Voids the remembered gateway verdicts of some families. A gateway is judged by the
 * routes of its own family (IPv4: device routes; IPv6: every route leaving through a
 * device, so also the nexthop objects such routes use), by the links, and for IPv6 by
 * the node's addresses; whatever changes one of these calls this.
 */
export function forgetGatewayVerdicts(state: KernelState, ...families: readonly Family[]): void {
  for (const family of families) state.onlinkVerdicts[family].clear();
}

/** Whether a route takes part in judging gateways of its family (see forgetGatewayVerdicts). */
function steersGatewayChecks(route: KernelRoute): boolean {
  if (route.target.kind === "device") return true;
  return route.family === 6 && route.target.kind !== "special";
}

/** A link that can carry traffic at all: it exists and is administratively up. */
export function linkIsUp(state: KernelState, dev: string): boolean {
  return state.links.get(dev)?.up === true;
}

/** Linux flags a nexthop linkdown when its device lacks carrier or is down (then also dead). */
function linkIsDown(state: KernelState, dev: string): boolean {
  const link = state.links.get(dev);
  return link === undefined || !link.up || !link.carrier;
}

/** A route as a dump or notification shows it: inline nexthops carry the current linkdown flag. */
export function observedRoute(state: KernelState, route: KernelRoute): KernelRoute {
  if (route.target.kind !== "gateways") return route;
  const nexthops = route.target.nexthops.map((nexthop): InlineNexthop => {
    const { linkdown: _ignored, ...rest } = nexthop;
    return linkIsDown(state, nexthop.dev) ? { ...rest, linkdown: true } : rest;
  });
  return { ...route, target: { kind: "gateways", nexthops } };
}

/** IPv4 routes leave silently when the kernel flushes them; IPv6 announces each removal. */
export function dropRoute(state: KernelState, route: KernelRoute): void {
  removeRoute(state, route);
  if (route.family === 6) state.emit({ kind: "route", action: "del", route: observedRoute(state, route) });
}
