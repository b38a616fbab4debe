/**
 * An address removed (`ip address del`), as Linux 6.18 does it (each case checked with
 * `ip` and `ip monitor` on veth pairs):
 *
 * - The address goes, announced, with its connected route (connected-route.ts) and its
 *   local and broadcast routes of table local (which the fake does not hold).
 * - IPv4: routes of main whose preferred source it was go too, whatever their device,
 *   each announced (fib_sync_down_addr; other tables keep theirs), unless another
 *   link still holds the address.
 * - IPv4, the device's last IPv4 address: Linux disables IPv4 there (fib_disable_ip)
 *   and says nothing more: every IPv4 route of any table whose inline nexthops all
 *   leave through the device, or are dead already, goes, device routes too; a
 *   multipath route with a live nexthop elsewhere stays, the device's nexthops dead
 *   (`dead linkdown`, skipped by lookups) until an IPv4 address is added or the link
 *   is set up again. Routes through nexthop objects, and the objects, stay.
 * - IPv6 routes stay, the device's last IPv6 address gone or not.
 *
 * Not modelled: secondary addresses. Removing the primary of a subnet takes its
 * secondaries with it, each announced first, or promotes one
 * (net.ipv4.conf.*.promote_secondaries); the fake removes only the address named.
 */
import { familyOf, type IpAddr } from "@kroute/core";
import { removeConnected } from "./connected-route.ts";
import { devicesOf, dropDeadRoutesThrough, removeAddresses, requireLink } from "./link-events.ts";
import { allRoutes, type KernelState, observedRoute, RT_TABLE_MAIN, removeRoute } from "./state.ts";

export function removeAddress(state: KernelState, dev: string, ip: IpAddr, prefixLength: number): void {
  requireLink(state, dev);
  const address = state.addresses.find(
    (candidate) => candidate.dev === dev && candidate.ip === ip && candidate.prefixLength === prefixLength,
  );
  if (address === undefined) throw new Error(`no such address: ${ip}/${prefixLength} on ${dev}`);
  removeAddresses(state, (candidate) => candidate !== address);
  removeConnected(state, address);
  if (familyOf(ip) === 6) return;
  if (!state.addresses.some((other) => other.ip === ip)) dropRoutesFrom(state, ip);
  if (!state.addresses.some((other) => other.dev === dev && familyOf(other.ip) === 4)) {
    disableIpv4(state, dev);
  }
}

/** Main's IPv4 routes whose preferred source the address was go, each announced. */
function dropRoutesFrom(state: KernelState, ip: IpAddr): void {
  for (const route of [...allRoutes(state)]) {
    if (route.family !== 4 || route.table !== RT_TABLE_MAIN || route.prefsrc !== ip) continue;
    const announced = observedRoute(state, route);
    removeRoute(state, route);
    state.emit({ kind: "route", action: "del", route: announced });
  }
}

/** The device's inline IPv4 nexthops die (device routes' too); routes left with no live one go, silently. */
function disableIpv4(state: KernelState, dev: string): void {
  for (const route of allRoutes(state)) {
    if (route.family !== 4 || !devicesOf(route).includes(dev)) continue;
    state.deadHops.set(route, new Set([...(state.deadHops.get(route) ?? []), dev]));
  }
  dropDeadRoutesThrough(state, dev, [4]);
}
