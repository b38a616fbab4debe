/**
 * A table's routes from the longest matching prefix to the shortest, as the FIB
 * walks them: `ip route get` stops at the first, the IPv6 on-link check at the first
 * that leaves through a given device. Only the prefix lengths present in the table
 * are tried (`state.prefixLengths`).
 */
import { type AddressBits, formatAddress, type KernelRoute } from "@kroute/core";
import { destinationKey, type KernelState } from "./state.ts";

function masked(address: AddressBits, length: number): string {
  if (address.family === 4) {
    const bits = length === 0 ? 0 : (address.bits & (0xffffffff << (32 - length))) >>> 0;
    return `${formatAddress({ family: 4, bits })}/${length}`;
  }
  const keep = length === 0 ? 0n : ((1n << BigInt(length)) - 1n) << BigInt(128 - length);
  return `${formatAddress({ family: 6, bits: address.bits & keep })}/${length}`;
}

/** The routes of each matching destination, longest prefix first, each lowest metric first. */
export function* matchingRoutes(
  state: KernelState,
  table: number,
  address: AddressBits,
): Generator<readonly KernelRoute[]> {
  const lengths = state.prefixLengths.get(`${address.family}|${table}`);
  if (lengths === undefined) return;
  for (const length of [...lengths.keys()].sort((a, b) => b - a)) {
    const routes = state.byDestination.get(destinationKey(address.family, table, masked(address, length)));
    if (routes !== undefined) yield routes;
  }
}
