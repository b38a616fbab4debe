/**
 * Which route makes a gateway on-link through a device: Linux looks the gateway up,
 * in the route's table and, when that gives no answer, through the rules (main, for
 * what the fake models), and the families read the answer differently (each case
 * checked with `ip` on 6.18):
 *
 * - IPv4 (fib_check_nh_v4_gw) looks up at scope link, which passes over routes via
 *   gateways (scope universe) and routes out of other devices: any device route of
 *   scope link or host and TOS 0 out of the device that contains the gateway will do.
 * - IPv6 (ip6_route_check_nh) takes the longest match among the routes leaving
 *   through the device, the lowest metric at that prefix, and wants it without a
 *   gateway: a more specific route via a gateway hides the connected one.
 */
import { addressBits, type IpAddr, type KernelRoute, prefixContains } from "@kroute/core";
import { matchingRoutes } from "./longest-match.ts";
import { type KernelState, RT_SCOPE_LINK, RT_TABLE_MAIN } from "./state.ts";

export function onlinkThrough(state: KernelState, table: number, gateway: IpAddr, dev: string): boolean {
  const address = addressBits(gateway);
  if (address === undefined) return false;
  if (address.family === 4) {
    for (const route of state.deviceRoutes.values()) {
      if (route.target.kind !== "device" || route.target.dev !== dev || route.scope < RT_SCOPE_LINK) continue;
      // The gateway is looked up as a flow of TOS 0: a route of another TOS does not serve it.
      if ((route.tos ?? 0) !== 0) continue;
      if (route.table !== table && route.table !== RT_TABLE_MAIN) continue;
      if (prefixContains(route.dst, gateway)) return true;
    }
    return false;
  }
  return [table, RT_TABLE_MAIN].some((candidate) => {
    for (const routes of matchingRoutes(state, candidate, address)) {
      const best = routes.find((route) => leavesThrough(state, route, dev));
      if (best !== undefined) return best.target.kind === "device";
    }
    return false;
  });
}

function leavesThrough(state: KernelState, route: KernelRoute, dev: string): boolean {
  const target = route.target;
  switch (target.kind) {
    case "device":
      return target.dev === dev;
    case "gateways":
      return target.nexthops.some((nexthop) => nexthop.dev === dev);
    case "nexthop-object":
      return nexthopLeavesThrough(state, target.id, dev);
    case "special":
      // Blackholes and the like leave through lo.
      return false;
  }
}

function nexthopLeavesThrough(state: KernelState, id: number, dev: string): boolean {
  const nexthop = state.nexthops.get(id);
  if (nexthop === undefined) return false;
  if (nexthop.kind === "gateway") return nexthop.dev === dev;
  if (nexthop.kind === "opaque") return nexthop.dev === dev;
  return nexthop.members.some((member) => nexthopLeavesThrough(state, member.id, dev));
}
