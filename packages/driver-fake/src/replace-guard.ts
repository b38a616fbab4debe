/**
 * The netlink driver's guard, kept by the fake so both Dataplanes answer alike: Linux
 * replaces the first IPv4 route at a key whoever owns it, and another program's
 * `ip route prepend` puts its route first at kroute's key. An in-place replace whose
 * key another owner's route leads is refused as an add would be (EEXIST), so kroute
 * never overwrites what others own (driver-netlink's replace-guard.ts says why).
 */
import type { KernelRoute, OpResult } from "@kroute/core";
import { kernelError } from "./errno.ts";
import { findRoute, type KernelState } from "./state.ts";

export function replaceLedByOther(state: KernelState, ours: KernelRoute): OpResult | undefined {
  if (ours.family !== 4) return undefined;
  const leader = findRoute(state, ours);
  if (leader === undefined || leader.protocol === ours.protocol) return undefined;
  return kernelError(
    "EEXIST",
    `a route of protocol ${leader.protocol} comes first at table ${ours.table} ${ours.dst} metric ${ours.metric}: ` +
      "Linux would replace it instead of kroute's, so kroute leaves it alone",
  );
}
