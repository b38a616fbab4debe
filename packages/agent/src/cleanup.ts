/**
 * `kroute-agent cleanup`: removes everything kroute owns on this node, for uninstall:
 * routes and rules tagged with one of kroute's protocols, nexthops in kroute's id range
 * with one of them (the agent's own test, core's ownsNexthop, for each protocol). The
 * protocols are the agent's own and the one it hands over from, or a list: after a
 * change of protocol, or where agents of several protocols ran, one run removes them
 * all. Nothing else is touched; the original default route, never changed by kroute,
 * carries traffic again as soon as the override is gone.
 *
 * Others can build on kroute's nexthop objects (`ip route add X nhid N`, or a group of
 * their own with N as a member). Deleting such an object makes Linux flush their routes
 * or change their group, so it is kept, and named with its users, instead.
 */
import {
  coversDefault,
  type Dataplane,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  nexthopIdInRange,
  type Op,
  type OpResult,
} from "@kroute/core";
import type { CleanupSettings } from "./settings.ts";

/** A nexthop of kroute's left in place, and the objects of others that use it. */
export interface KeptNexthop {
  readonly nexthop: KernelNexthop;
  readonly usedBy: readonly string[];
}

export interface CleanupReport {
  readonly ops: readonly Op[];
  readonly results: readonly OpResult[];
  readonly kept: readonly KeptNexthop[];
}

interface CleanupSnapshot {
  readonly routes: readonly KernelRoute[];
  readonly nexthops: readonly KernelNexthop[];
  readonly rules: readonly KernelRule[];
}

/** Whether cleanup removes the nexthop: one of its protocols, in kroute's id range (core's ownsNexthop). */
function removable(nexthop: KernelNexthop, settings: CleanupSettings): boolean {
  return settings.protocols.includes(nexthop.protocol) && nexthopIdInRange(nexthop.id, settings);
}

/**
 * Owned nexthop id → what keeps it: others' routes and groups that use it, and then
 * the members of a kept group of kroute's (deleting one would change that group).
 */
function usersOfOwnedNexthops(snapshot: CleanupSnapshot, settings: CleanupSettings): Map<number, string[]> {
  const owned = new Map(snapshot.nexthops.filter((n) => removable(n, settings)).map((n) => [n.id, n]));
  const users = new Map<number, string[]>();
  const addUser = (id: number, user: string) => {
    if (owned.has(id)) users.set(id, [...(users.get(id) ?? []), user]);
  };
  for (const route of snapshot.routes) {
    if (settings.protocols.includes(route.protocol) || route.target.kind !== "nexthop-object") continue;
    addUser(route.target.id, `route ${route.dst} table ${route.table} protocol ${route.protocol}`);
  }
  for (const group of snapshot.nexthops) {
    if (group.kind !== "group" || owned.has(group.id)) continue;
    for (const member of group.members)
      addUser(member.id, `nexthop group ${group.id} protocol ${group.protocol}`);
  }
  for (const id of [...users.keys()]) {
    const group = owned.get(id);
    if (group?.kind !== "group") continue;
    for (const member of group.members) addUser(member.id, `kept nexthop group ${id}`);
  }
  return users;
}

/**
 * kroute's routes, the default-route override first, as the agent takes it out (core's
 * diff.ts): a default route or half outside the tables kroute's rules look up. Removed
 * after the reply table's route or a protected host route, it would take the node's
 * replies or its API server's traffic for a moment.
 */
function routesOverrideFirst(snapshot: CleanupSnapshot, settings: CleanupSettings): KernelRoute[] {
  const ruleTables = new Set(
    snapshot.rules
      .filter((r) => settings.protocols.includes(r.protocol) && r.suppressPrefixLength === undefined)
      .map((r) => r.table),
  );
  const isOverride = (route: KernelRoute) => coversDefault(route.dst) && !ruleTables.has(route.table);
  const routes = snapshot.routes.filter((r) => settings.protocols.includes(r.protocol));
  return [...routes.filter(isOverride), ...routes.filter((r) => !isOverride(r))];
}

/**
 * The delete ops, in an order the kernel accepts (routes, the override first, then
 * groups, then their members, then rules), and the nexthops kept for others.
 */
export function cleanupPlan(
  snapshot: CleanupSnapshot,
  settings: CleanupSettings,
): { ops: Op[]; kept: KeptNexthop[] } {
  const users = usersOfOwnedNexthops(snapshot, settings);
  const owned = snapshot.nexthops.filter((n) => removable(n, settings));
  const removed = owned.filter((n) => !users.has(n.id));
  return {
    ops: [
      ...routesOverrideFirst(snapshot, settings).map(
        (from): Op => ({ object: "route", action: "delete", from }),
      ),
      ...removed
        .filter((n) => n.kind === "group")
        .map((from): Op => ({ object: "nexthop", action: "delete", from })),
      ...removed
        .filter((n) => n.kind === "gateway")
        .map((from): Op => ({ object: "nexthop", action: "delete", from })),
      ...snapshot.rules
        .filter((r) => settings.protocols.includes(r.protocol))
        .map((from): Op => ({ object: "rule", action: "delete", from })),
    ],
    kept: owned.flatMap((nexthop) => {
      const usedBy = users.get(nexthop.id);
      return usedBy === undefined ? [] : [{ nexthop, usedBy }];
    }),
  };
}

export async function cleanup(dataplane: Dataplane, settings: CleanupSettings): Promise<CleanupReport> {
  // Every protocol's routes and nexthops: those of others are what may use kroute's nexthops.
  const { ops, kept } = cleanupPlan(await dataplane.list({}), settings);
  if (settings.dryRun || ops.length === 0) return { ops, results: [], kept };
  return { ops, results: await dataplane.apply(ops), kept };
}
