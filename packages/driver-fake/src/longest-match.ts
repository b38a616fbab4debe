/**
 * A table's routes from the longest matching prefix to the shortest, as the FIB
 * walks them: `ip route get` stops at the first, the IPv6 on-link check at the first
 * that leaves through a given device. Only the prefix lengths present in the table
 * are tried (`state.prefixLengths`).
 */
import { type AddressBits, type KernelRoute, networkPrefix } from "@kroute/core";
import { destinationKey, type KernelState } from "./state.ts";

/** The routes of each matching destination, longest prefix first, each lowest metric first. */
export function* matchingRoutes(
  state: KernelState,
  table: number,
  address: AddressBits,
): Generator<readonly KernelRoute[]> {
  const lengths = state.prefixLengths.get(`${address.family}|${table}`);
  if (lengths === undefined) return;
  for (const length of [...lengths.keys()].sort((a, b) => b - a)) {
    const routes = state.byDestination.get(
      destinationKey(address.family, table, networkPrefix(address, length)),
    );
    if (routes !== undefined) yield routes;
  }
}
