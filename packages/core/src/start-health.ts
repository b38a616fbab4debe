/**
 * Gateway health across an agent restart (a DaemonSet rolling update, an OOM kill).
 *
 * A restarted agent has no probe verdicts, and a gateway without one counts as up. But
 * the kernel it adopts remembers what the agent before it judged: a gateway it had
 * taken out of a set is missing from the set's routes (from their nexthop group, or
 * from their inline nexthops) while the others are there. Counted as up, that gateway
 * went back into the set on the first apply, and the traffic hashed to it was
 * black-holed until the new agent's probes took it out again (fall × interval).
 *
 * So, until every source has synced once, a gateway with no verdict that the kernel
 * shows left out of one of its sets, while other members of the set carry the set's
 * traffic, is presumed down; its first verdict ends that (reducer.ts). A restart with a
 * gateway still down then writes nothing at all. The rule reads only the kernel and the
 * Routes, so a replay of the recorded events presumes the same (packages/sim).
 *
 * Weighed against:
 * - Waiting with the first apply for the first probe verdicts: every route of the node
 *   (new Routes, repairs, the override) would wait fall × interval after each start
 *   (3 s by default) to learn what the kernel already says, and the wait needs a bound
 *   after which a dead gateway goes back in anyway.
 * - Keeping verdicts in a file across restarts: a second record of what the kernel
 *   already holds, which can disagree with it (a crash between the two writes), and a
 *   host path to mount.
 *
 * What looks the same: a gateway added to a Route while no agent ran is also left out
 * while the others are there. It waits for its first verdict (rise × interval) while the
 * gateways that carried the set before the restart go on carrying it. A gateway the
 * kernel does not show left out (a new Route, a set the kernel does not hold, all of a
 * set's gateways present: fail-static) counts as up at once, as before.
 */
import { hmGet, hmKeys, hmValues } from "./hashmap.ts";
import type { IpAddr } from "./ip.ts";
import type { KernelRoute } from "./kernel.ts";
import type { NodeState, OwnedKernelState, SetMember } from "./state.ts";

/** True once routes, node, host facts and the kernel have each been seen: from then on verdicts are the agent's own. */
export function syncedOnce(state: NodeState): boolean {
  return state.routes.synced && state.node.observed && state.host.observed && state.kernel.observed;
}

function memberKey(gateway: string, dev: string): string {
  return `${gateway}|${dev}`;
}

/** The gateways (memberKey) that a kroute route in the kernel sends traffic to; undefined when that cannot be told. */
function carriedBy(route: KernelRoute, kernel: OwnedKernelState): string[] | undefined {
  const { target } = route;
  if (target.kind === "gateways") return target.nexthops.map((n) => memberKey(n.gateway, n.dev));
  if (target.kind !== "nexthop-object") return undefined;
  const object = hmGet(kernel.nexthops, String(target.id));
  if (object?.kind === "gateway") return [memberKey(object.gateway, object.dev)];
  if (object?.kind !== "group") return undefined;
  const carried: string[] = [];
  for (const member of object.members) {
    const gateway = hmGet(kernel.nexthops, String(member.id));
    if (gateway?.kind !== "gateway") return undefined;
    carried.push(memberKey(gateway.gateway, gateway.dev));
  }
  return carried;
}

/**
 * Gateways with no verdict, not yet presumed down, that the kernel shows left out of
 * one of their sets: a route of the set carries some of its members and nothing else.
 */
export function leftOutInKernel(state: NodeState): IpAddr[] {
  const found = new Set<IpAddr>();
  if (state.kernel.routes.size === 0) return [];
  const unjudged = (m: SetMember) =>
    state.probes[m.gateway] === undefined && state.presumedDown[m.gateway] === undefined;
  for (const set of hmValues(state.derived.sets)) {
    if (!set.probe || set.members.length < 2 || !set.members.some(unjudged)) continue;
    const members = new Set(set.members.map((m) => memberKey(m.gateway, m.dev)));
    for (const key of hmKeys(set.users)) {
      const route = hmGet(state.kernel.routes, key);
      const carried = route === undefined ? undefined : carriedBy(route, state.kernel);
      // A route through anything but this set's gateways is another set's, from before a change.
      if (carried === undefined || carried.length === 0 || !carried.every((c) => members.has(c))) continue;
      for (const m of set.members) {
        if (unjudged(m) && !carried.includes(memberKey(m.gateway, m.dev))) found.add(m.gateway);
      }
    }
  }
  return [...found].sort();
}
