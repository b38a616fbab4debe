/**
 * Tells the operator which of kroute's nexthops it keeps though no Route needs them,
 * because another program's route goes through them (core nexthop-users.ts), and when
 * it lets them go: otherwise a stale nexthop object of proto 201 would be a mystery.
 * Logged once per change, not per step.
 */
import { hmGet, type KeptNexthop, keptNexthops, type NodeState } from "@kroute/core";
import type { Logger } from "../log.ts";

export function keptNexthopsLog(log: Pick<Logger, "info">): (state: NodeState) => void {
  let users: NodeState["kernel"]["nexthopUsers"] | undefined;
  let desired: NodeState["derived"]["nexthops"] | undefined;
  let last: readonly KeptNexthop[] = [];
  return (state) => {
    if (state.kernel.nexthopUsers === users && state.derived.nexthops === desired) return;
    users = state.kernel.nexthopUsers;
    desired = state.derived.nexthops;
    if (users.countById.size === 0 && last.length === 0) return;
    const kept = keptNexthops(users, state.kernel.nexthops, desired);
    const before = new Map(last.map((k) => [k.id, k.users.join(", ")]));
    for (const { id, users: names } of kept) {
      if (before.get(id) !== names.join(", "))
        log.info(
          { nexthop: id, users: names },
          "keeping nexthop %d, which no Route needs: another program's route goes through it (%s); deleting it would flush that route",
          id,
          names.join(", "),
        );
    }
    const now = new Set(kept.map((k) => k.id));
    for (const { id } of last) {
      if (now.has(id)) continue;
      // No longer kept for others either because their route went, or because a Route
      // needs it again (their route may still go through it, as through any of kroute's).
      if (hmGet(desired, String(id)) !== undefined)
        log.info(
          { nexthop: id },
          "nexthop %d is needed by a Route again: kroute's to change as that Route does, whoever else routes through it",
          id,
        );
      else
        log.info(
          { nexthop: id },
          "nexthop %d is no longer used by another program's route: deleting it if no Route needs it",
          id,
        );
    }
    last = kept;
  };
}
