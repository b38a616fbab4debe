/**
 * A route deletion Linux announced, made again here (the simulator replays another
 * program's recorded changes): the route the announcement describes whole goes, not
 * the first route of its owner at the key, which is all kroute's own delete names
 * (route-ops.ts deleteRoute).
 *
 * A key (table, destination, TOS, metric) can hold several routes: IPv4 routes
 * appended or prepended beside each other, the connected routes of one subnet on two
 * links (the same address on both: same owner, same source). Another program's
 * request names the one to take by what it carries, and Linux 6.18 matches it:
 * fib_table_delete (net/ipv4/fib_trie.c) by type, scope, prefsrc and protocol, then
 * fib_nh_match (net/ipv4/fib_semantics.c) by nexthop id, device and gateway;
 * ip6_route_del (net/ipv6/route.c) by nexthop id, metric, protocol, device and
 * gateway. The announcement names the route taken with its own attributes (checked
 * with `ip route del 10.0.0.0/24 dev b` beside the same subnet on a, and `ip route del
 * D via G2` beside `D via G1`, under `ip monitor route`).
 */
import { canonicalRoute, type InlineNexthop, type KernelRoute, type OpResult } from "@kroute/core";
import { kernelError, OK } from "./errno.ts";
import { withKernelMetric } from "./route-ops.ts";
import { type KernelState, observedRoute, removeRoute, routesAtKey, swapRoute } from "./state.ts";

export function removeAnnouncedRoute(state: KernelState, request: KernelRoute): OpResult {
  // Linux makes table local's IPv6 routes (an address's `local`, a subnet's `anycast`)
  // at metric 0 and announces them so; the fake, given one, stored it where a request
  // puts metric 0: at 1024.
  const announced = withKernelMetric(request);
  const atKey = routesAtKey(state, announced);
  const named = canonicalRoute(announced);
  const same = atKey.find((route) => canonicalRoute(route) === named);
  if (same !== undefined) {
    removeRoute(state, same);
    state.emit({ kind: "route", action: "del", route: observedRoute(state, same) });
    return OK;
  }
  return removeIpv6Siblings(state, atKey, announced) ? OK : kernelError("ESRCH");
}

/**
 * An IPv6 multipath route is a set of sibling routes to Linux, which the fake holds
 * as one (route-append.ts joins a key's inline gateways into one route): `ip -6 route
 * del D via G` takes the sibling through G alone (ip6_route_del: "if gateway was
 * specified only delete the one hop") and announces the deletion of `D via G`, the
 * route staying with its other gateways, unannounced (checked on 6.18).
 */
function removeIpv6Siblings(
  state: KernelState,
  atKey: readonly KernelRoute[],
  announced: KernelRoute,
): boolean {
  if (announced.family !== 6 || announced.target.kind !== "gateways") return false;
  const held = atKey.find((route) => route.target.kind === "gateways");
  if (held === undefined || held.target.kind !== "gateways") return false;
  const gone = new Set(announced.target.nexthops.map(hop));
  const left = held.target.nexthops.filter((nexthop) => !gone.has(hop(nexthop)));
  if (held.target.nexthops.length - left.length !== gone.size || left.length === 0) return false;
  swapRoute(state, held, { ...held, target: { kind: "gateways", nexthops: left } });
  state.emit({ kind: "route", action: "del", route: observedRoute(state, announced) });
  return true;
}

const hop = (nexthop: InlineNexthop): string => `${nexthop.gateway}@${nexthop.dev}`;
