/**
 * A route created without NLM_F_EXCL at a key others already hold: `ip route append`
 * (NLM_F_CREATE|NLM_F_APPEND) or `ip route prepend` (NLM_F_CREATE). kroute never sends
 * either; other programs do, and the families answer differently (each case checked
 * with `ip` and `ip monitor route` on 6.18):
 *
 * - IPv4 (fib_table_insert) puts a second route at the key, after those there
 *   (append) or before them (prepend); the first of a key is the one lookups take.
 *   A route just like one there (owner, scope, source, target) is EEXIST; one of
 *   another owner through the same gateway is not.
 * - IPv6 (fib6_add_rt2node) puts it after those there either way. A route through
 *   gateways inline joins the key's first such route as more nexthops (a multipath
 *   route, dumped with that route's owner); any other stands beside them. A nexthop
 *   any route of the key already has (same gateway and device, or the same nexthop
 *   object) is EEXIST. Linux announces a single appended gateway as the joined route
 *   in the appender's name, its own nexthop first.
 */
import { canonicalRoute, type InlineNexthop, type KernelRoute, type OpResult } from "@kroute/core";
import { kernelError, OK } from "./errno.ts";
import { appendRoute, type KernelState, observedRoute, prependRoute, swapRoute } from "./state.ts";

export function appendAtKey(
  state: KernelState,
  atKey: readonly KernelRoute[],
  route: KernelRoute,
  flags: "append" | "prepend",
): OpResult {
  if (route.family === 4) {
    if (atKey.some((other) => sameRoute(other, route))) return kernelError("EEXIST");
    if (flags === "append") appendRoute(state, route);
    else prependRoute(state, route);
    return announced(state, route, flags);
  }
  if (atKey.some((other) => sharesNexthop(other, route))) return kernelError("EEXIST");
  const joined = inlineGateways(route) ? atKey.find(inlineGateways) : undefined;
  if (joined === undefined || joined.target.kind !== "gateways" || route.target.kind !== "gateways") {
    appendRoute(state, route);
    return announced(state, route, flags);
  }
  const existing = joined.target.nexthops;
  const added = route.target.nexthops;
  const merged: KernelRoute = { ...joined, target: { kind: "gateways", nexthops: [...existing, ...added] } };
  swapRoute(state, joined, merged);
  // One gateway is announced as its own route (with its siblings after it); several
  // as the route they joined.
  const announcedAs: KernelRoute =
    added.length === 1
      ? {
          ...merged,
          protocol: route.protocol,
          target: { kind: "gateways", nexthops: [...added, ...existing] },
        }
      : merged;
  return announced(state, announcedAs, flags);
}

/** Linux's fib_info match: the same owner, scope, preferred source and target. */
export function sameRoute(a: KernelRoute, b: KernelRoute): boolean {
  return canonicalRoute(a) === canonicalRoute(b);
}

/** An IPv6 route that can join others at its key as a multipath route (rt6_qualify_for_ecmp). */
export function inlineGateways(route: KernelRoute): boolean {
  return route.target.kind === "gateways";
}

/** Linux flags an append at a taken key NLM_F_APPEND (both families), a prepend not. */
function announced(state: KernelState, route: KernelRoute, flags: "append" | "prepend"): OpResult {
  const observed = observedRoute(state, route);
  state.emit(
    flags === "append"
      ? { kind: "route", action: "new", route: observed, appended: true }
      : { kind: "route", action: "new", route: observed },
  );
  return OK;
}

/** Where an IPv6 route's nexthops go (rt6_duplicate_nexthop): a special route leaves through lo. */
function hops(route: KernelRoute): string[] {
  const target = route.target;
  switch (target.kind) {
    case "gateways":
      return target.nexthops.map((nexthop: InlineNexthop) => `${nexthop.gateway}@${nexthop.dev}`);
    case "device":
      return [`@${target.dev}`];
    case "special":
      return ["@lo"];
    case "nexthop-object":
      return [`id ${target.id}`];
  }
}

function sharesNexthop(a: KernelRoute, b: KernelRoute): boolean {
  const theirs = new Set(hops(a));
  return hops(b).some((hop) => theirs.has(hop));
}
