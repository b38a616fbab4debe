/**
 * The fake kernel's mutable state and the small helpers every operation shares.
 * Routes are stored keyed as Linux keys them (family, table, dst, tos, priority) and
 * also indexed by destination for lookups.
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
import { prefixLength } from "@kroute/core";
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
   * The routes: `family|table|dst` to the routes of that destination in Linux's order
   * (highest TOS, then lowest metric, first; a route's key adds the TOS and metric).
   * The only store, no second map by full key: a simulated node holds thousands of
   * routes, a replay a million (sim-scale).
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
  /**
   * Routes straight out of a device (connected routes, mostly): what makes an IPv4
   * gateway on-link. The stored objects themselves: appended routes may share a key and device.
   */
  readonly deviceRoutes: Set<KernelRoute>;
  /**
   * The devices of a stored IPv4 route's inline nexthops that Linux marked dead
   * (RTNH_F_DEAD) when the device lost its last IPv4 address, while the route kept a
   * live nexthop elsewhere (address-removal.ts). By stored object: a replace makes a
   * new route, whose nexthops start alive.
   */
  readonly deadHops: Map<KernelRoute, ReadonlySet<string>>;
  /** Answers of the gateway check by the gateway's family, until `forgetGatewayVerdicts`. */
  readonly onlinkVerdicts: Record<Family, Map<string, KernelError | undefined>>;
  /** `family|table` of every table that exists: main and local from the start, others from their first request. */
  readonly tables: Set<string>;
  readonly nexthops: Map<number, KernelNexthop>;
  readonly buckets: Map<number, BucketTable>;
  rules: KernelRule[];
  readonly hashPolicy: Record<Family, MultipathHashPolicy>;
  /** net.ipv4.conf.all.promote_secondaries, for every link (secondary-addresses.ts). */
  promoteSecondaries: boolean;
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

/** Whether two routes of one destination share a key: Linux keys them by TOS and metric. */
export function sameKey(a: RouteKey, b: RouteKey): boolean {
  return a.metric === b.metric && (a.tos ?? 0) === (b.tos ?? 0);
}

/**
 * Linux's order of one destination's routes: IPv4's FIB by TOS, highest first, then
 * metric (fib_find_alias); IPv6 by metric. Within a key, in the order they were put
 * there (append adds after, prepend before).
 */
function kernelOrder(a: KernelRoute, b: KernelRoute): number {
  return (b.tos ?? 0) - (a.tos ?? 0) || a.metric - b.metric;
}

/**
 * The routes stored at a key (family, table, dst, tos, metric), first first: several
 * when others were appended or prepended there. The key is most often a route object
 * that was stored before (ops carry the core's shared objects): its cached key spares
 * building the string again for every op.
 */
export function routesAtKey(state: KernelState, key: RouteKey): readonly KernelRoute[] {
  const routes = state.byDestination.get(
    destinationKeys.get(key) ?? destinationKey(key.family, key.table, key.dst),
  );
  if (routes === undefined) return [];
  // Nearly every destination holds one route: no new array for it.
  return routes.length === 1 && sameKey(routes[0] as KernelRoute, key)
    ? routes
    : routes.filter((route) => sameKey(route, key));
}

/** The first route stored at a key: the one Linux replaces, deletes and routes through. */
export function findRoute(state: KernelState, key: RouteKey): KernelRoute | undefined {
  return state.byDestination
    .get(destinationKeys.get(key) ?? destinationKey(key.family, key.table, key.dst))
    ?.find((route) => sameKey(route, key));
}

/** Every stored route. */
export function* allRoutes(state: KernelState): Generator<KernelRoute> {
  for (const routes of state.byDestination.values()) yield* routes;
}

/** Puts `next` where the stored `previous` is, at the same key: a replace keeps the route's place. */
export function swapRoute(state: KernelState, previous: KernelRoute, next: KernelRoute): void {
  const destination = routeDestinationKey(previous);
  const routes = state.byDestination.get(destination);
  if (routes === undefined || !routes.includes(previous)) return;
  untrack(state, previous);
  track(state, next);
  state.byDestination.set(
    destination,
    routes.map((route) => (route === previous ? next : route)),
  );
}

/**
 * Stores a route after any at its key: `ip route append`, and the kernel's own
 * connected routes (Linux adds them without NLM_F_EXCL, so each link's
 * `fe80::/64 metric 256`, or each of two links' routes to one IPv4 subnet, stands
 * beside the others'; an exclusive add from outside gets EEXIST instead).
 */
export function appendRoute(state: KernelState, route: KernelRoute): void {
  storeRoute(state, route, (others) => [...others, route]);
}

/** Stores a route before any at its key: `ip route prepend` of an IPv4 route. */
export function prependRoute(state: KernelState, route: KernelRoute): void {
  storeRoute(state, route, (others) => [route, ...others]);
}

function storeRoute(
  state: KernelState,
  route: KernelRoute,
  place: (others: readonly KernelRoute[]) => KernelRoute[],
): void {
  const destination = routeDestinationKey(route);
  track(state, route);
  const others = state.byDestination.get(destination);
  if (others === undefined) {
    state.byDestination.set(destination, [route]);
    countPrefixLength(state, route, 1);
  } else {
    // Arrays rather than a Map per destination: nearly every destination holds one route.
    // The sort is stable: the placed route keeps its place among those of its key.
    state.byDestination.set(destination, place(others).sort(kernelOrder));
  }
}

/** Removes a stored route (the object `findRoute` or `allRoutes` gave). */
export function removeRoute(state: KernelState, route: KernelRoute): void {
  untrack(state, route);
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

/** Indexes a route is entered in besides byDestination (see KernelState). */
function track(state: KernelState, route: KernelRoute): void {
  if (route.target.kind === "nexthop-object") {
    let routes = state.byNexthop.get(route.target.id);
    if (routes === undefined) {
      routes = new Set();
      state.byNexthop.set(route.target.id, routes);
    }
    routes.add(route);
  }
  if (route.target.kind === "device") state.deviceRoutes.add(route);
  if (steersGatewayChecks(route)) forgetGatewayVerdicts(state, route.family);
}

function untrack(state: KernelState, route: KernelRoute): void {
  if (route.target.kind === "nexthop-object") {
    const routes = state.byNexthop.get(route.target.id);
    routes?.delete(route);
    if (routes?.size === 0) state.byNexthop.delete(route.target.id);
  }
  if (route.target.kind === "device") state.deviceRoutes.delete(route);
  state.deadHops.delete(route);
  if (steersGatewayChecks(route)) forgetGatewayVerdicts(state, route.family);
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

/**
 * Whether a stored route's nexthops out of a device carry no traffic: the device is
 * administratively down, or lost its last IPv4 address (see deadHops).
 */
export function hopIsDead(state: KernelState, route: KernelRoute, dev: string): boolean {
  return !linkIsUp(state, dev) || state.deadHops.get(route)?.has(dev) === true;
}

/**
 * Linux flags a nexthop linkdown when its device lacks carrier or is down (then also
 * dead), and a dead one too: it marks both when the device loses its last IPv4 address.
 */
function linkIsDown(state: KernelState, route: KernelRoute, dev: string): boolean {
  const link = state.links.get(dev);
  return link === undefined || !link.carrier || hopIsDead(state, route, dev);
}

/** A route as a dump or notification shows it: inline nexthops carry the current linkdown flag. */
export function observedRoute(state: KernelState, route: KernelRoute): KernelRoute {
  if (route.target.kind !== "gateways") return route;
  const nexthops = route.target.nexthops.map((nexthop): InlineNexthop => {
    const { linkdown: _ignored, ...rest } = nexthop;
    return linkIsDown(state, route, nexthop.dev) ? { ...rest, linkdown: true } : rest;
  });
  return { ...route, target: { kind: "gateways", nexthops } };
}

/** IPv4 routes leave silently when the kernel flushes them; IPv6 announces each removal. */
export function dropRoute(state: KernelState, route: KernelRoute): void {
  removeRoute(state, route);
  if (route.family === 6) state.emit({ kind: "route", action: "del", route: observedRoute(state, route) });
}
