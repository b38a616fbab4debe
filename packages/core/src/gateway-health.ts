/**
 * Which gateways of a set carry traffic. A gateway counts as down when its last probe
 * result said so. Before its first one it counts as up, so that a new Route is
 * programmed at once, unless it was presumed down at start: the kernel the agent found
 * showed it left out of its set (start-health.ts).
 */
import type { IpAddr } from "./ip.ts";
import type { NodeState, SetMember } from "./state.ts";

export type GatewayHealth = Pick<NodeState, "probes" | "presumedDown">;

export function countsAsDown(health: GatewayHealth, gateway: IpAddr): boolean {
  const probe = health.probes[gateway];
  return probe === undefined ? health.presumedDown[gateway] === true : !probe.up;
}

/** Gateways of a set that carry traffic now: those not counted as down, or all when every one is (fail-static). */
export function usableMembers(
  set: { readonly probe: boolean; readonly members: readonly SetMember[] },
  health: GatewayHealth,
): { members: readonly SetMember[]; failStatic: boolean } {
  if (!set.probe) return { members: set.members, failStatic: false };
  const healthy = set.members.filter((m) => !countsAsDown(health, m.gateway));
  return healthy.length > 0
    ? { members: healthy, failStatic: false }
    : { members: set.members, failStatic: true };
}
