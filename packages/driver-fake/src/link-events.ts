/**
 * What happens to routes when links change, as Linux 6.x does it (each case checked
 * with `ip` in a namespace):
 *
 * - Carrier loss: nexthop objects on the device (gateway and device-only; fdb ones have
 *   no device) are flushed (no notification), with
 *   the groups and routes depending on them; legacy routes stay, flagged linkdown.
 * - Administratively down: the same flush; IPv4 routes out of the device go silently
 *   (a multipath route only when all its nexthops are dead); IPv6 loses the device's
 *   addresses and routes, each announced, multipath routes keeping a dead nexthop.
 *   Set up again, its dead nexthops live again (also those its last IPv4 address took:
 *   address-removal.ts), as does an IPv4 address added while it is up.
 * - Deleted: everything on it goes; an IPv4 multipath route with any nexthop there
 *   goes whole and silently, an IPv6 one loses just that nexthop (announced as a
 *   deletion of a route through it).
 * - Up with carrier (created so, set up, or carrier back while up): it gets its IPv6
 *   link-local address, unless it has it, with its connected route (link-local.ts).
 */
import {
  type Family,
  type IpAddr,
  type KernelAddress,
  type KernelRoute,
  maxPrefixLength,
  parseIp,
} from "@kroute/core";
import { installConnected } from "./connected-route.ts";
import { LINK_LOCAL_PREFIX_LENGTH, linkLocalAddress, wantsLinkLocal } from "./link-local.ts";
import { removeNexthops } from "./nexthop-ops.ts";
import {
  allRoutes,
  dropRoute,
  forgetGatewayVerdicts,
  hopIsDead,
  type KernelState,
  linkIsUp,
  observedRoute,
  swapRoute,
} from "./state.ts";

export function requireLink(state: KernelState, name: string): void {
  if (!state.links.has(name)) throw new Error(`no such link: ${JSON.stringify(name)}`);
}

function setLink(state: KernelState, name: string, change: { up?: boolean; carrier?: boolean }): void {
  const link = state.links.get(name);
  if (link === undefined) throw new Error(`no such link: ${JSON.stringify(name)}`);
  const next = { ...link, ...change };
  state.links.set(name, next);
  forgetGatewayVerdicts(state, 4, 6);
  state.emit({ kind: "link", action: "new", link: next });
}

export function addLink(state: KernelState, name: string, up = true, carrier = true): void {
  if (!/^[^\s/]{1,15}$/.test(name)) throw new Error(`invalid link name: ${JSON.stringify(name)}`);
  if (state.links.has(name)) throw new Error(`link exists: ${JSON.stringify(name)}`);
  const link = { index: state.nextLinkIndex++, name, up, carrier };
  state.links.set(name, link);
  forgetGatewayVerdicts(state, 4, 6);
  state.emit({ kind: "link", action: "new", link });
  configureLinkLocal(state, name);
}

/** Gives a link that is up with carrier its link-local address, unless it has it. */
function configureLinkLocal(state: KernelState, dev: string): void {
  const link = state.links.get(dev);
  if (link === undefined || !wantsLinkLocal(link)) return;
  const ip = linkLocalAddress(link.index);
  if (state.addresses.some((address) => address.dev === dev && address.ip === ip)) return;
  addAddress(state, dev, ip, LINK_LOCAL_PREFIX_LENGTH);
}

export function addAddress(state: KernelState, dev: string, ip: IpAddr, prefixLength: number): void {
  requireLink(state, dev);
  const parsed = parseIp(ip);
  if (!parsed.ok || parsed.value !== ip) throw new Error(`invalid address: ${JSON.stringify(ip)}`);
  const family = ip.includes(":") ? 6 : 4;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > maxPrefixLength(family)) {
    throw new Error(`invalid prefix length for ${ip}: ${prefixLength}`);
  }
  if (state.addresses.some((a) => a.dev === dev && a.ip === ip)) {
    throw new Error(`address exists: ${ip} on ${dev}`);
  }
  const address: KernelAddress = { ip, prefixLength, dev };
  state.addresses.push(address);
  // An IPv6 gateway may not be one of the node's addresses.
  forgetGatewayVerdicts(state, 6);
  state.emit({ kind: "address", action: "new", address });
  installConnected(state, address);
  if (family === 4) reviveNexthops(state, dev);
}

/**
 * An IPv4 address added, or the link set up, brings back to life the nexthops through
 * the link that died with its last IPv4 address (fib_sync_up, silently), while it is up.
 */
function reviveNexthops(state: KernelState, dev: string): void {
  if (!linkIsUp(state, dev)) return;
  for (const [route, devices] of state.deadHops) {
    if (!devices.has(dev)) continue;
    const left = new Set([...devices].filter((other) => other !== dev));
    if (left.size === 0) state.deadHops.delete(route);
    else state.deadHops.set(route, left);
  }
}

/** The devices a route's own nexthops leave through (none for nexthop objects and special routes). */
export function devicesOf(route: KernelRoute): string[] {
  switch (route.target.kind) {
    case "gateways":
      return route.target.nexthops.map((nexthop) => nexthop.dev);
    case "device":
      return [route.target.dev];
    case "nexthop-object":
    case "special":
      return [];
  }
}

function flushNexthops(state: KernelState, dev: string): void {
  const ids: number[] = [];
  for (const nexthop of state.nexthops.values()) {
    // Gateway and device-only nexthops; an fdb nexthop has no device, a blackhole stays on lo.
    if ((nexthop.kind === "gateway" || nexthop.kind === "opaque") && nexthop.dev === dev)
      ids.push(nexthop.id);
  }
  removeNexthops(state, ids, false);
}

/** Removes the addresses `keep` refuses, announcing each. */
export function removeAddresses(state: KernelState, keep: (address: KernelAddress) => boolean): void {
  const removed = state.addresses.filter((address) => !keep(address));
  state.addresses = state.addresses.filter(keep);
  if (removed.length > 0) forgetGatewayVerdicts(state, 6);
  for (const address of removed) state.emit({ kind: "address", action: "del", address });
}

export function setCarrier(state: KernelState, dev: string, carrier: boolean): void {
  requireLink(state, dev);
  if (state.links.get(dev)?.carrier === carrier) return;
  setLink(state, dev, { carrier });
  if (carrier) configureLinkLocal(state, dev);
  else flushNexthops(state, dev);
}

export function setAdminUp(state: KernelState, dev: string, up: boolean): void {
  requireLink(state, dev);
  if (state.links.get(dev)?.up === up) return;
  setLink(state, dev, { up });
  if (up) {
    reviveNexthops(state, dev);
    for (const address of state.addresses) if (address.dev === dev) installConnected(state, address);
    configureLinkLocal(state, dev);
    return;
  }
  flushNexthops(state, dev);
  removeAddresses(state, (address) => address.dev !== dev || !address.ip.includes(":"));
  dropDeadRoutesThrough(state, dev, [4, 6]);
}

/**
 * Linux's flush once a device's nexthops died (fib_sync_down_dev, then fib_flush): each
 * route of the families leaving through the device goes when every nexthop of it is
 * dead, IPv4 silently; a multipath route with a live nexthop elsewhere stays.
 */
export function dropDeadRoutesThrough(state: KernelState, dev: string, families: readonly Family[]): void {
  for (const route of [...allRoutes(state)]) {
    if (!families.includes(route.family)) continue;
    const devices = devicesOf(route);
    if (!devices.includes(dev)) continue;
    if (devices.some((other) => !hopIsDead(state, route, other))) continue;
    dropRoute(state, route);
  }
}

export function deleteLink(state: KernelState, dev: string): void {
  requireLink(state, dev);
  flushNexthops(state, dev);
  removeAddresses(state, (address) => address.dev !== dev);
  for (const route of [...allRoutes(state)]) {
    if (!devicesOf(route).includes(dev)) continue;
    if (route.family === 6 && route.target.kind === "gateways" && route.target.nexthops.length > 1) {
      const [through, others] = partition(route.target.nexthops, (nexthop) => nexthop.dev === dev);
      if (others.length > 0) {
        state.emit({
          kind: "route",
          action: "del",
          route: observedRoute(state, { ...route, target: { kind: "gateways", nexthops: through } }),
        });
        swapRoute(state, route, { ...route, target: { kind: "gateways", nexthops: others } });
        continue;
      }
    }
    dropRoute(state, route);
  }
  const link = state.links.get(dev);
  state.links.delete(dev);
  forgetGatewayVerdicts(state, 4, 6);
  if (link !== undefined) state.emit({ kind: "link", action: "del", link });
}

function partition<T>(items: readonly T[], predicate: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (predicate(item) ? yes : no).push(item);
  return [yes, no];
}
