/**
 * An address removed (`ip address del`), as Linux 6.18 does it (each case checked with
 * `ip` and `ip monitor all` on veth pairs):
 *
 * - The address goes, announced, with its connected route (connected-route.ts) and its
 *   local and broadcast routes of table local (which the fake does not hold).
 * - IPv4: routes of main whose preferred source it was go too, whatever their device,
 *   each announced (fib_sync_down_addr; other tables keep theirs), unless another
 *   link still holds the address. A secondary (secondary-addresses.ts) takes only
 *   these: it made no connected route.
 * - IPv4, a subnet's primary with secondaries (__inet_del_ifa): with
 *   net.ipv4.conf.*.promote_secondaries=0 (the kernel's default) the secondaries go
 *   first, each as above, then the primary. With =1 (systemd's) the primary goes with
 *   its connected route and main's routes from it, then the first secondary is
 *   announced anew (RTM_NEWADDR, no longer secondary) with the connected route made
 *   again, announced, its source now the promoted address; routes from the
 *   secondaries stay.
 * - IPv4, the device's last IPv4 address: Linux disables IPv4 there (fib_disable_ip)
 *   and says nothing more: every IPv4 route of any table whose inline nexthops all
 *   leave through the device, or are dead already, goes, device routes too; a
 *   multipath route with a live nexthop elsewhere stays, the device's nexthops dead
 *   (`dead linkdown`, skipped by lookups) until an IPv4 address is added or the link
 *   is set up again. Routes through nexthop objects, and the objects, stay.
 * - IPv6 routes stay, the device's last IPv6 address gone or not.
 */
import { familyOf, type IpAddr, type KernelAddress } from "@kroute/core";
import { installConnected, removeConnected } from "./connected-route.ts";
import { devicesOf, dropDeadRoutesThrough, removeAddresses, requireLink } from "./link-events.ts";
import { secondariesOf } from "./secondary-addresses.ts";
import { allRoutes, type KernelState, observedRoute, RT_TABLE_MAIN, removeRoute } from "./state.ts";

export function removeAddress(state: KernelState, dev: string, ip: IpAddr, prefixLength: number): void {
  requireLink(state, dev);
  const address = state.addresses.find(
    (candidate) => candidate.dev === dev && candidate.ip === ip && candidate.prefixLength === prefixLength,
  );
  if (address === undefined) throw new Error(`no such address: ${ip}/${prefixLength} on ${dev}`);
  const secondaries = secondariesOf(state, address);
  const promoted = state.promoteSecondaries ? secondaries[0] : undefined;
  if (promoted === undefined) for (const secondary of secondaries) removeOne(state, secondary);
  removeOne(state, address);
  if (promoted !== undefined) {
    state.emit({ kind: "address", action: "new", address: promoted });
    installConnected(state, promoted);
  }
  if (familyOf(ip) === 4 && !state.addresses.some((other) => other.dev === dev && familyOf(other.ip) === 4)) {
    disableIpv4(state, dev);
  }
}

/** One address, announced, with its connected route and (IPv4) main's routes from it. */
function removeOne(state: KernelState, address: KernelAddress): void {
  removeAddresses(state, (candidate) => candidate !== address);
  removeConnected(state, address);
  if (familyOf(address.ip) === 4 && !state.addresses.some((other) => other.ip === address.ip)) {
    dropRoutesFrom(state, address.ip);
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
