/**
 * The route Linux adds for an address: its network out of its device, in main,
 * `proto kernel`, while the device is administratively up (with or without carrier),
 * and deletes, announced, with the address. A host address (/32, /128) has none.
 */
import { type KernelAddress, type KernelRoute, maxPrefixLength, parsePrefix } from "@kroute/core";
import { isSecondary } from "./secondary-addresses.ts";
import {
  appendRoute,
  destinationKey,
  type KernelState,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTPROT_KERNEL,
  removeRoute,
  sameKey,
} from "./state.ts";

function connectedRoute(address: KernelAddress): KernelRoute | undefined {
  const family = address.ip.includes(":") ? 6 : 4;
  if (address.prefixLength >= maxPrefixLength(family)) return undefined;
  const network = parsePrefix(`${address.ip}/${address.prefixLength}`);
  if (!network.ok) return undefined;
  const common = {
    family,
    table: RT_TABLE_MAIN,
    dst: network.value,
    protocol: RTPROT_KERNEL,
    target: { kind: "device", dev: address.dev },
  } as const;
  // IPv4 connected routes are scope link with metric 0 and a preferred source;
  // IPv6 ones are scope universe with metric 256 and none.
  return family === 4
    ? { ...common, metric: 0, scope: RT_SCOPE_LINK, prefsrc: address.ip }
    : { ...common, metric: 256, scope: RT_SCOPE_UNIVERSE };
}

/** Whether a route at the key already leaves through the device. */
function heldBy(state: KernelState, key: KernelRoute, dev: string): boolean {
  const routes = state.byDestination.get(destinationKey(key.family, key.table, key.dst)) ?? [];
  return routes.some(
    (route) => sameKey(route, key) && route.target.kind === "device" && route.target.dev === dev,
  );
}

/** Adds the address's connected route, when its device is up, and announces it. */
export function installConnected(state: KernelState, address: KernelAddress): void {
  const route = connectedRoute(address);
  if (route === undefined || !state.links.get(address.dev)?.up) return;
  // An IPv4 secondary makes none (fib_add_ifaddr skips IFA_F_SECONDARY), even where its
  // primary's was deleted; a second IPv6 address in the link's prefix adds no second one.
  // Another link in the same subnet keeps its own beside it (two links in 10.9.0.0/24, or
  // each link's fe80::/64; checked with `ip` on 6.18).
  if (isSecondary(state, address) || heldBy(state, route, address.dev)) return;
  appendRoute(state, route);
  state.emit({ kind: "route", action: "new", route });
}

/**
 * Takes away, announced, the connected route a removed address gave its link. IPv4's
 * route carries the address as its source, so it goes only with the address that made
 * it (a second address in the subnet added none); IPv6's stays while another address
 * of the link is in its prefix.
 */
export function removeConnected(state: KernelState, address: KernelAddress): void {
  const key = connectedRoute(address);
  if (key === undefined) return;
  if (key.family === 6 && state.addresses.some((other) => sameNetwork(other, address))) return;
  const routes = state.byDestination.get(destinationKey(key.family, key.table, key.dst)) ?? [];
  const route = routes.find(
    (candidate) =>
      sameKey(candidate, key) &&
      candidate.protocol === RTPROT_KERNEL &&
      candidate.target.kind === "device" &&
      candidate.target.dev === address.dev &&
      candidate.prefsrc === key.prefsrc,
  );
  if (route === undefined) return;
  removeRoute(state, route);
  state.emit({ kind: "route", action: "del", route });
}

function sameNetwork(a: KernelAddress, b: KernelAddress): boolean {
  return a.dev === b.dev && connectedRoute(a)?.dst === connectedRoute(b)?.dst;
}
