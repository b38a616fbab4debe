/**
 * Other programs' routes at the keys of kroute's routes, in the kernel's order. Linux
 * holds several routes at one key (another program's `ip route append` or `prepend`),
 * and another program's replace there takes the key's first route (IPv4), or its first
 * of the replacing route's kind (IPv6), whoever owns it; the notification names only
 * the route that came in. Whether it took kroute's route or theirs depends on whose
 * led the key, so that is kept here, for the keys kroute holds a route at only.
 * Checked with `ip route prepend/append/replace` and a netlink listener on 6.18.
 */
import { sameRoute } from "./canonical.ts";
import { emptyHashMap, type HashMap, hmDelete, hmForEach, hmGet, hmSet } from "./hashmap.ts";
import { type KernelRoute, sharedRouteKey } from "./kernel.ts";

export interface KeySharers {
  /** Others' routes before kroute's (an IPv4 prepend), the first leading the key. */
  readonly before: readonly KernelRoute[];
  /** Others' routes after kroute's (an append; IPv6 puts every route there). */
  readonly after: readonly KernelRoute[];
}

/** By routeKey() of kroute's route. */
export type SharersByKey = HashMap<KeySharers>;

/**
 * Others' routes at kroute's keys, from a dump in the kernel's order (the order a key's
 * routes are dumped in is the order lookups and replaces take them in). The keys are
 * found first from others' routes alone: a dump of 100,000 routes of kroute's shares
 * few keys, or none.
 */
export function sharersFromDump(
  routes: readonly KernelRoute[],
  ours: (route: KernelRoute) => boolean,
  held: (key: string) => boolean,
): SharersByKey {
  let sharers: SharersByKey = emptyHashMap();
  const shared = new Set<string>();
  for (const route of routes) {
    if (!ours(route) && held(sharedRouteKey(route))) shared.add(sharedRouteKey(route));
  }
  if (shared.size === 0) return sharers;
  const ourKeysSeen = new Set<string>();
  for (const route of routes) {
    const key = sharedRouteKey(route);
    if (!shared.has(key)) continue;
    if (ours(route)) ourKeysSeen.add(key);
    else sharers = withSharer(sharers, key, route, ourKeysSeen.has(key) ? "after" : "before");
  }
  return sharers;
}

function withSharer(
  sharers: SharersByKey,
  key: string,
  route: KernelRoute,
  where: "before" | "after" | "first",
): SharersByKey {
  const at = hmGet(sharers, key) ?? { before: [], after: [] };
  const next =
    where === "after"
      ? { before: at.before, after: [...at.after, route] }
      : where === "first"
        ? { before: [route, ...at.before], after: at.after }
        : { before: [...at.before, route], after: at.after };
  return hmSet(sharers, key, next);
}

function put(sharers: SharersByKey, key: string, at: KeySharers): SharersByKey {
  return at.before.length === 0 && at.after.length === 0 ? hmDelete(sharers, key) : hmSet(sharers, key, at);
}

/**
 * Another program's route added beside kroute's without replacing anything: IPv4 puts
 * an appended one after the key's routes and a prepended one before them, where it now
 * leads; IPv6 puts it after them either way.
 */
export function sharerAdded(sharers: SharersByKey, route: KernelRoute, appended: boolean): SharersByKey {
  const first = route.family === 4 && !appended;
  return withSharer(sharers, sharedRouteKey(route), route, first ? "first" : "after");
}

/** An IPv6 route that can join others at its key as a multipath route (rt6_qualify_for_ecmp). */
function inlineGateways(route: KernelRoute): boolean {
  return route.target.kind === "gateways";
}

/**
 * Which route at kroute's key another program's replace took: "ours", where theirs
 * was, or "none" when it was a route of theirs re-announced. IPv4 (fib_table_insert) takes the key's first route. IPv6 (fib6_add_rt2node)
 * takes the first whose kind (through gateways inline, or not) is the replacing
 * route's, else the first.
 */
export function replacedAt(
  held: KernelRoute,
  at: KeySharers | undefined,
  replacing: KernelRoute,
): "ours" | "none" | { readonly where: "before" | "after"; readonly index: number } {
  if (at === undefined) return "ours";
  // A route just like one of theirs already there: Linux re-announcing it, flagged, as
  // its nexthop object is replaced (nexthop_compat_mode). A replace with a route the
  // key holds changes nothing and announces nothing.
  if (at.before.some((r) => sameRoute(r, replacing)) || at.after.some((r) => sameRoute(r, replacing)))
    return "none";
  const order: { readonly route: KernelRoute; readonly where: "before" | "after" | "ours"; index: number }[] =
    [
      ...at.before.map((route, index) => ({ route, where: "before" as const, index })),
      { route: held, where: "ours" as const, index: 0 },
      ...at.after.map((route, index) => ({ route, where: "after" as const, index })),
    ];
  const taken =
    held.family === 4
      ? order[0]
      : (order.find(({ route }) => inlineGateways(route) === inlineGateways(replacing)) ?? order[0]);
  if (taken === undefined || taken.where === "ours") return "ours";
  return { where: taken.where, index: taken.index };
}

/** Theirs at `where` replaced by `route`: it keeps its place. */
export function sharerReplaced(
  sharers: SharersByKey,
  route: KernelRoute,
  where: "before" | "after",
  index: number,
): SharersByKey {
  const key = sharedRouteKey(route);
  const at = hmGet(sharers, key);
  if (at === undefined) return sharers;
  const swap = (routes: readonly KernelRoute[]) => routes.map((r, i) => (i === index ? route : r));
  return hmSet(
    sharers,
    key,
    where === "before"
      ? { before: swap(at.before), after: at.after }
      : { before: at.before, after: swap(at.after) },
  );
}

/**
 * Another program's route deleted at kroute's key: Linux deletes the first route that
 * matches the request, so the first just like the announced one goes.
 */
export function sharerDeleted(sharers: SharersByKey, route: KernelRoute): SharersByKey {
  const key = sharedRouteKey(route);
  const at = hmGet(sharers, key);
  if (at === undefined) return sharers;
  const without = (routes: readonly KernelRoute[]): readonly KernelRoute[] | undefined => {
    const index = routes.findIndex((r) => sameRoute(r, route));
    return index < 0 ? undefined : routes.filter((_, i) => i !== index);
  };
  const before = without(at.before);
  if (before !== undefined) return put(sharers, key, { before, after: at.after });
  const after = without(at.after);
  return after === undefined ? sharers : put(sharers, key, { before: at.before, after });
}

/**
 * Others' routes a link event may have taken without a word: IPv4 routes out of the
 * device (`flushed` says which, as for kroute's own), and any route through a nexthop
 * object, whose device kroute does not know (Linux flushes a nexthop with its device).
 * Forgetting one that stayed makes a later replace read as one of kroute's route,
 * which a retried add shows; keeping one that went would hide kroute's route's loss.
 */
export function forgetSharersFlushed(
  sharers: SharersByKey,
  flushed: (route: KernelRoute) => boolean,
): SharersByKey {
  const gone = (route: KernelRoute) => route.target.kind === "nexthop-object" || flushed(route);
  const changed: [string, KeySharers][] = [];
  hmForEach(sharers, (at, key) => {
    if (at.before.some(gone) || at.after.some(gone))
      changed.push([
        key,
        { before: at.before.filter((r) => !gone(r)), after: at.after.filter((r) => !gone(r)) },
      ]);
  });
  return changed.reduce((next, [key, at]) => put(next, key, at), sharers);
}

/** kroute's route at `key` is gone: the key's other routes are no longer tracked. */
export function forgetSharersAt(sharers: SharersByKey, key: string): SharersByKey {
  return hmGet(sharers, key) === undefined ? sharers : hmDelete(sharers, key);
}
