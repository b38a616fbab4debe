/**
 * IPv4 primary and secondary addresses, as Linux 6.18 keeps them (net/ipv4/devinet.c,
 * __inet_insert_ifa; checked with `ip` and `ip monitor all` in a namespace): an
 * address added to a device that holds one of the same prefix length in the same
 * network is secondary (`ip address` shows `secondary`). It gets a local route (table
 * local, which the fake does not hold) but no connected route of its own; the
 * subnet's first address is its primary. What removing either does is in
 * address-removal.ts.
 *
 * The fake keeps no flag: Linux keeps a subnet's primary before its secondaries, and
 * the secondaries in the order they came (a promoted one moves up to the primaries),
 * and the fake keeps every address in the order it came, so a subnet's first address
 * on its device is its primary, a promoted one too.
 */
import { familyOf, type KernelAddress, parsePrefix } from "@kroute/core";
import type { KernelState } from "./state.ts";

/** The IPv4 network an address's prefix length makes of it, or undefined for IPv6. */
function subnetOf(address: KernelAddress): string | undefined {
  if (familyOf(address.ip) !== 4) return undefined;
  const network = parsePrefix(`${address.ip}/${address.prefixLength}`);
  return network.ok ? network.value : undefined;
}

/** The addresses of an IPv4 address's subnet on its device, in the order they came, itself among them. */
function subnetOn(state: KernelState, address: KernelAddress): KernelAddress[] {
  const subnet = subnetOf(address);
  if (subnet === undefined) return [];
  return state.addresses.filter(
    (other) =>
      other.dev === address.dev && other.prefixLength === address.prefixLength && subnetOf(other) === subnet,
  );
}

/** Whether an address is an IPv4 secondary: another of its subnet on the device came first. */
export function isSecondary(state: KernelState, address: KernelAddress): boolean {
  const [primary] = subnetOn(state, address);
  return primary !== undefined && primary !== address;
}

/** A primary's secondaries, in the order they came (none for a secondary or IPv6). */
export function secondariesOf(state: KernelState, address: KernelAddress): KernelAddress[] {
  const [primary, ...secondaries] = subnetOn(state, address);
  return primary === address ? secondaries : [];
}
