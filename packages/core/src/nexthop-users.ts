/**
 * Other programs' routes through nexthop ids of kroute's range (`ip route add X nhid N`,
 * N copied from `ip route`). Deleting a nexthop makes Linux flush every route through
 * it, whoever owns the route, and a group goes with its last member: so a nexthop of
 * kroute's that such a route uses is kept, and so is every member of a group of kroute's
 * that one uses, until the route goes (checked with `ip` on Linux 6.18). The routes come
 * from the dump (its scope takes them, see kernel.ts's DumpScope) and from route
 * notifications; a route Linux flushes with a nexthop is forgotten with it.
 *
 * Kept by the route's key, as Linux keys it (a replace there names only the route that
 * came in), with a count per nexthop id, so that the question asked at each nexthop
 * kroute no longer wants is one lookup, and an event costs nothing when no one else
 * routes through kroute's objects, as on most nodes.
 */
import { sameRoute } from "./canonical.ts";
import { emptyHashMap, type HashMap, hmDelete, hmForEach, hmGet, hmSet } from "./hashmap.ts";
import { type KernelNexthop, type KernelRoute, sharedRouteKey } from "./kernel.ts";

export interface NexthopUsers {
  /** By routeKey() of the route: others' routes through an id of kroute's range, in arrival order. */
  readonly byKey: HashMap<readonly KernelRoute[]>;
  /** String(nexthop id) → how many of them go through it; absent: none. */
  readonly countById: HashMap<number>;
}

export function emptyNexthopUsers(): NexthopUsers {
  return { byKey: emptyHashMap(), countById: emptyHashMap() };
}

/** The id another program's route goes through, when it is one of kroute's range. */
export type ThroughRange = (route: KernelRoute) => number | undefined;

/** `touched` hears of each nexthop id whose count of users changed. */
type Touched = (id: number) => void;

function counted(users: NexthopUsers, id: number, by: number, touched: Touched): HashMap<number> {
  touched(id);
  const count = (hmGet(users.countById, String(id)) ?? 0) + by;
  return count === 0 ? hmDelete(users.countById, String(id)) : hmSet(users.countById, String(id), count);
}

function withRoutesAt(users: NexthopUsers, key: string, routes: readonly KernelRoute[]): NexthopUsers {
  return {
    ...users,
    byKey: routes.length === 0 ? hmDelete(users.byKey, key) : hmSet(users.byKey, key, routes),
  };
}

export function nexthopUsersFromDump(routes: readonly KernelRoute[], through: ThroughRange): NexthopUsers {
  let users = emptyNexthopUsers();
  for (const route of routes) if (through(route) !== undefined) users = userAdded(users, route, through);
  return users;
}

/**
 * Another program's route added (or appended, prepended) beside whatever is at its key.
 * One just like a route kept there is that route told again (Linux refuses a second
 * with EEXIST): a route added while the start-up dump ran is in the dump and in the
 * notifications replayed after it, and counted twice it would keep the nexthop after
 * its deletion.
 */
export function userAdded(
  users: NexthopUsers,
  route: KernelRoute,
  through: ThroughRange,
  touched: Touched = () => {},
): NexthopUsers {
  const id = through(route);
  if (id === undefined) return users;
  const key = sharedRouteKey(route);
  const at = hmGet(users.byKey, key) ?? [];
  if (at.some((r) => sameRoute(r, route))) return users;
  const next = withRoutesAt(users, key, [...at, route]);
  return { ...next, countById: counted(next, id, 1, touched) };
}

/** Another program's route deleted: Linux deletes the first route at its key just like it. */
export function userDeleted(
  users: NexthopUsers,
  route: KernelRoute,
  through: ThroughRange,
  touched: Touched = () => {},
): NexthopUsers {
  const id = through(route);
  if (id === undefined) return users;
  const key = sharedRouteKey(route);
  const at = hmGet(users.byKey, key) ?? [];
  const index = at.findIndex((r) => sameRoute(r, route));
  if (index < 0) return users;
  const next = withRoutesAt(
    users,
    key,
    at.filter((_, i) => i !== index),
  );
  return { ...next, countById: counted(next, id, -1, touched) };
}

/**
 * Another program's route replaced one at its key. `replaced`: the route it took, when
 * known (one of theirs at a key kroute holds, see key-sharers.ts). Elsewhere it is not
 * known: Linux replaces the key's first route, which may be one not through kroute's
 * nexthops and so not kept here; the routes kept at the key are then kept on, and the
 * next dump forgets one that went. A nexthop kept a while too long costs nothing; one
 * deleted on a wrong guess would flush a route of theirs. A route kept here just like the
 * new one is Linux re-announcing it (its nexthop replaced): nothing changed.
 */
export function userReplaced(
  users: NexthopUsers,
  route: KernelRoute,
  replaced: KernelRoute | undefined,
  through: ThroughRange,
  touched: Touched = () => {},
): NexthopUsers {
  const key = sharedRouteKey(route);
  const at = hmGet(users.byKey, key) ?? [];
  if (at.some((r) => sameRoute(r, route))) return users;
  const without = replaced === undefined ? users : userDeleted(users, replaced, through, touched);
  return userAdded(without, route, through, touched);
}

/** Forgets the routes through the ids `gone` says Linux deleted (flushing the routes with them). */
export function usersFlushed(
  users: NexthopUsers,
  gone: (id: number) => boolean,
  through: ThroughRange,
  touched: Touched = () => {},
): NexthopUsers {
  let any = false;
  hmForEach(users.countById, (_count, id) => {
    any ||= gone(Number(id));
  });
  if (!any) return users;
  const flushed: KernelRoute[] = [];
  hmForEach(users.byKey, (routes) => {
    for (const route of routes) {
      const id = through(route);
      if (id !== undefined && gone(id)) flushed.push(route);
    }
  });
  return flushed.reduce((next, route) => userDeleted(next, route, through, touched), users);
}

export function usersOf(users: NexthopUsers, id: number): number {
  return hmGet(users.countById, String(id)) ?? 0;
}

/**
 * Whether kroute keeps its nexthop at `id` though no Route wants it: another program's
 * route goes through it, or through a group of kroute's that holds it (deleted, it
 * would leave the group, and the group would go with its last member). A group kroute
 * still wants but with other members gives its old ones up once replaced (owned.ts
 * re-checks them then).
 */
export function keptForOthers(users: NexthopUsers, nexthops: HashMap<KernelNexthop>, id: number): boolean {
  if (users.countById.size === 0) return false;
  if (usersOf(users, id) > 0) return true;
  let held = false;
  hmForEach(users.countById, (_count, usedId) => {
    const group = hmGet(nexthops, usedId);
    held ||= group?.kind === "group" && group.members.some((member) => member.id === id);
  });
  return held;
}

/** Others' routes that keep `id`, directly or through a kept group of kroute's (for status and logs). */
export function usersKeeping(
  users: NexthopUsers,
  nexthops: HashMap<KernelNexthop>,
  id: number,
): KernelRoute[] {
  const keeping: KernelRoute[] = [];
  hmForEach(users.byKey, (routes) => {
    for (const route of routes) {
      if (route.target.kind !== "nexthop-object") continue;
      const via = route.target.id;
      const group = hmGet(nexthops, String(via));
      if (via === id || (group?.kind === "group" && group.members.some((member) => member.id === id)))
        keeping.push(route);
    }
  });
  return keeping;
}

/** A nexthop of kroute's that no Route wants, kept for others' routes, and those routes as `ip` would name them. */
export interface KeptNexthop {
  readonly id: number;
  readonly users: readonly string[];
}

/**
 * What kroute keeps for others' routes now, by id: for the operator (the agent logs it
 * when it changes). Costs nothing on a node where no one else routes through kroute's
 * objects.
 */
export function keptNexthops(
  users: NexthopUsers,
  nexthops: HashMap<KernelNexthop>,
  desired: HashMap<KernelNexthop>,
): KeptNexthop[] {
  if (users.countById.size === 0) return [];
  const kept: KeptNexthop[] = [];
  hmForEach(nexthops, (nexthop, key) => {
    if (hmGet(desired, key) !== undefined || !keptForOthers(users, nexthops, nexthop.id)) return;
    const keeping = usersKeeping(users, nexthops, nexthop.id).map(
      (route) => `route ${route.dst} table ${route.table} protocol ${route.protocol}`,
    );
    kept.push({ id: nexthop.id, users: keeping.sort() });
  });
  return kept.sort((a, b) => a.id - b.id);
}
