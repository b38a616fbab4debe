/**
 * kroute's own slice of the kernel: which objects it owns, and how ops and change
 * notifications change that slice. Pure; this is the model the reducer keeps of
 * the kernel, and what property tests apply diffs to.
 */
import { routeObjectKey } from "./canonical.ts";
import { hmDelete, hmForEach, hmFromEntries, hmGet, hmHas, hmSet, hmValues } from "./hashmap.ts";
import { familyOf } from "./ip.ts";
import {
  type KernelChange,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  type Op,
  routeKey,
  ruleKey,
  sharedRouteKey,
} from "./kernel.ts";
import {
  forgetSharersAt,
  forgetSharersFlushed,
  replacedAt,
  sharerAdded,
  sharerDeleted,
  sharerReplaced,
  sharersFromDump,
} from "./key-sharers.ts";
import {
  nexthopUsersFromDump,
  type ThroughRange,
  userAdded,
  userDeleted,
  userReplaced,
  usersFlushed,
  usersOf,
} from "./nexthop-users.ts";
import { forgetOthersFlushedWith, othersFromNexthops, withOthersNexthop } from "./others-nexthops.ts";
import type { EngineSettings } from "./settings.ts";
import type { OwnedKernelState } from "./state.ts";

type Ownership = Pick<
  EngineSettings,
  "protocol" | "adoptProtocol" | "nexthopIdBase" | "nexthopIdCount" | "nexthopMode" | "resilient"
>;

/** The protocols of kroute's objects: its own, and the one it hands over from (settings.ts). */
export function krouteProtocols(settings: Pick<EngineSettings, "protocol" | "adoptProtocol">): number[] {
  return settings.adoptProtocol === undefined
    ? [settings.protocol]
    : [settings.protocol, settings.adoptProtocol];
}

/** Whether `protocol` is one of kroute's (krouteProtocols), without building the list: this runs for every object seen. */
export function isKroutesProtocol(
  protocol: number,
  settings: Pick<EngineSettings, "protocol" | "adoptProtocol">,
): boolean {
  return protocol === settings.protocol || protocol === settings.adoptProtocol;
}

export function ownsRoute(route: KernelRoute, settings: Ownership): boolean {
  return isKroutesProtocol(route.protocol, settings);
}

export function nexthopIdInRange(
  id: number,
  settings: Pick<Ownership, "nexthopIdBase" | "nexthopIdCount">,
): boolean {
  return id >= settings.nexthopIdBase && id < settings.nexthopIdBase + settings.nexthopIdCount;
}

/**
 * Both marks, as cleanup has it: the range is where kroute puts its objects, not a
 * claim on whatever else is there (another protocol's nexthop at one of its ids is
 * someone else's, and deleting it would flush their routes).
 */
export function ownsNexthop(nexthop: KernelNexthop, settings: Ownership): boolean {
  return isKroutesProtocol(nexthop.protocol, settings) && nexthopIdInRange(nexthop.id, settings);
}

export function ownsRule(rule: KernelRule, settings: Ownership): boolean {
  return isKroutesProtocol(rule.protocol, settings);
}

/**
 * Another protocol's nexthop at an id of kroute's range: an id it cannot use. A nexthop
 * of the protocol kroute hands over from is one too, though kroute's own to delete:
 * Linux keeps a group's protocol through a replace, so no old nexthop can be rewritten
 * in place; kroute builds the new ones at other ids, moves its routes onto them (each
 * route replaced in place: never without a way) and then deletes the old ones. So is a
 * group of kroute's that none of its groups can replace (madeUnderOtherSettings).
 */
export function holdsOthersId(nexthop: KernelNexthop, settings: Ownership): boolean {
  return (
    (nexthop.protocol !== settings.protocol || madeUnderOtherSettings(nexthop, settings)) &&
    nexthopIdInRange(nexthop.id, settings)
  );
}

/**
 * A group of another type or bucket count than kroute makes now (--resilient-buckets
 * changed between runs): Linux replaces no group by one of another type, nor a resilient
 * group by one of another bucket count. Deleted and made again at its id, it would take
 * every route through it along (flushed with it, then added back one by one).
 */
function madeUnderOtherSettings(nexthop: KernelNexthop, settings: Ownership): boolean {
  if (nexthop.kind !== "group" || settings.nexthopMode !== "groups") return false;
  const wanted = settings.resilient;
  if (wanted === undefined) return nexthop.groupType !== "mpath";
  return nexthop.groupType !== "resilient" || nexthop.resilient?.buckets !== wanted.buckets;
}

/** The id of kroute's range another program's route goes through, if any (nexthop-users.ts). */
function throughRange(settings: Ownership): ThroughRange {
  return (route) =>
    !ownsRoute(route, settings) &&
    route.target.kind === "nexthop-object" &&
    nexthopIdInRange(route.target.id, settings)
      ? route.target.id
      : undefined;
}

/** The same for a route already kept as such a user. */
const keptVia: ThroughRange = (route) =>
  route.target.kind === "nexthop-object" ? route.target.id : undefined;

/**
 * The object keys whose agreement changes with the users of nexthop `id`: the nexthop,
 * and the members of kroute's group there, kept with it (derive.ts's agrees).
 */
function usersChangedAt(nexthops: OwnedKernelState["nexthops"], touched: Touched): (id: number) => void {
  return (id) => {
    touched.push(`n|${id}`);
    const group = hmGet(nexthops, String(id));
    if (group?.kind === "group") for (const member of group.members) touched.push(`n|${member.id}`);
  };
}

/**
 * Others' routes through an id no nexthop holds any more are gone: Linux flushed them
 * with it, without a word. `before`: the state before the nexthops went, whose groups
 * tell which members were kept with them.
 */
function forgetUsersOfGone(
  kernel: OwnedKernelState,
  before: OwnedKernelState,
  touched: Touched,
): OwnedKernelState {
  const gone = (id: number) =>
    !hmHas(kernel.nexthops, String(id)) && !hmHas(kernel.othersNexthops, String(id));
  const nexthopUsers = usersFlushed(
    kernel.nexthopUsers,
    gone,
    keptVia,
    usersChangedAt(before.nexthops, touched),
  );
  return nexthopUsers === kernel.nexthopUsers ? kernel : { ...kernel, nexthopUsers };
}

/**
 * A group of kroute's that others' routes use changed members: those it gave up are no
 * longer kept with it, and those it took may be kept now.
 */
function regrouped(kernel: OwnedKernelState, nexthop: KernelNexthop, touched: Touched): void {
  const old = hmGet(kernel.nexthops, String(nexthop.id));
  if (usersOf(kernel.nexthopUsers, nexthop.id) === 0) return;
  for (const held of [old, nexthop])
    if (held?.kind === "group") for (const member of held.members) touched.push(`n|${member.id}`);
}

/**
 * The owned state seen in a full dump; foreign objects are dropped here and never looked
 * at again, but for the ids of kroute's range that others' nexthops hold.
 */
export function ownedFromSnapshot(snapshot: KernelSnapshot, settings: Ownership): OwnedKernelState {
  const owns = (route: KernelRoute) => ownsRoute(route, settings);
  const routes = hmFromEntries(snapshot.routes.filter(owns).map((r) => [sharedRouteKey(r), r]));
  return {
    routes,
    sharers: sharersFromDump(snapshot.routes, owns, (key) => hmHas(routes, key)),
    nexthopUsers: nexthopUsersFromDump(snapshot.routes, throughRange(settings)),
    nexthops: hmFromEntries(
      snapshot.nexthops.filter((n) => ownsNexthop(n, settings)).map((n) => [String(n.id), n]),
    ),
    rules: hmFromEntries(snapshot.rules.filter((r) => ownsRule(r, settings)).map((r) => [ruleKey(r), r])),
    ...othersFromNexthops(snapshot.nexthops.filter((n) => holdsOthersId(n, settings))),
    links: snapshot.links,
    addresses: snapshot.addresses,
    complete: snapshot.complete,
    observed: true,
  };
}

/** Object keys (see canonical.ts) an op or a change may have altered, so the reducer can re-check them. */
export type Touched = string[];

/**
 * Deleting a nexthop object makes Linux drop it from its groups (a group left empty
 * goes too) and flush the routes that used any of them, without notifications. Several
 * deleted together (a plan's deletes, which come in a run) are flushed in one scan: the
 * same as one after the other, since a group is left empty by its last member's delete
 * either way, and a route through anything gone is flushed either way.
 */
function deleteNexthopsCascade(
  kernel: OwnedKernelState,
  ids: readonly number[],
  touched: Touched,
): OwnedKernelState {
  // Members are taken out only for the ids deleted, as one delete after another does:
  // a group emptied here leaves no group that held it (Linux nests no groups anyway).
  const deleted = new Set<number>(ids);
  const gone = new Set<number>(ids);
  let nexthops = kernel.nexthops;
  for (const id of ids) {
    nexthops = hmDelete(nexthops, String(id));
    touched.push(`n|${id}`);
  }
  // Scanned without listing the entries first: each scan passes over every owned
  // nexthop and route, once per run of deletes (applyAccepted) or per delete notified.
  const holders: [string, KernelNexthop & { kind: "group" }][] = [];
  hmForEach(nexthops, (nexthop, key) => {
    if (nexthop.kind === "group" && nexthop.members.some((m) => deleted.has(m.id)))
      holders.push([key, nexthop]);
  });
  for (const [key, group] of holders) {
    const members = group.members.filter((m) => !deleted.has(m.id));
    touched.push(`n|${key}`);
    if (members.length === 0) {
      nexthops = hmDelete(nexthops, key);
      gone.add(group.id);
    } else nexthops = hmSet(nexthops, key, { ...group, members });
  }
  const flushed: [string, KernelRoute][] = [];
  hmForEach(kernel.routes, (route, key) => {
    if (route.target.kind === "nexthop-object" && gone.has(route.target.id)) flushed.push([key, route]);
  });
  let routes = kernel.routes;
  let sharers = kernel.sharers;
  for (const [key, route] of flushed) {
    routes = hmDelete(routes, key);
    sharers = forgetSharersAt(sharers, key);
    touched.push(routeObjectKey(route));
  }
  return forgetUsersOfGone({ ...kernel, nexthops, routes, sharers }, kernel, touched);
}

/**
 * Linux deletes the nexthop objects of a device that goes down, loses its carrier or
 * disappears (with the groups left empty and the routes using them) and announces
 * none of it: the link change is the only news, so the owned view mirrors the flush.
 */
function flushNexthopsOn(kernel: OwnedKernelState, dev: string, touched: Touched): OwnedKernelState {
  let next = kernel;
  for (const nexthop of hmValues(kernel.nexthops)) {
    if (nexthop.kind === "gateway" && nexthop.dev === dev)
      next = deleteNexthopsCascade(next, [nexthop.id], touched);
  }
  return next;
}

/**
 * Linux also drops IPv4 routes out of a device silently (their nexthops are inline, not
 * objects): when the device goes administratively down, a route whose nexthops all use
 * it; when the device is deleted, a route with any nexthop on it (see driver-fake's
 * link-events.ts, checked against Linux). IPv6 announces its losses, so they come as
 * route notifications.
 */
function flushInlineV4On(
  kernel: OwnedKernelState,
  dev: string,
  which: "all" | "any",
  touched: Touched,
): OwnedKernelState {
  let next = kernel;
  for (const route of hmValues(kernel.routes)) {
    if (route.target.kind !== "gateways" || !flushedWith(route, dev, which)) continue;
    touched.push(routeObjectKey(route));
    next = putRoute(next, route, false);
  }
  return { ...next, sharers: forgetSharersFlushed(next.sharers, (route) => flushedWith(route, dev, which)) };
}

/** Whether Linux drops an IPv4 route out of `dev` without a word (see flushInlineV4On). */
function flushedWith(route: KernelRoute, dev: string, which: "all" | "any"): boolean {
  if (route.family !== 4) return false;
  const target = route.target;
  const onDev = (hop: { readonly dev: string }) => hop.dev === dev;
  if (target.kind === "device") return target.dev === dev;
  if (target.kind !== "gateways") return false;
  return which === "all" ? target.nexthops.every(onDev) : target.nexthops.some(onDev);
}

/**
 * What remains of a held route after a delete notification for its key. An IPv6
 * multipath route is a set of sibling routes to Linux: a link going away deletes the
 * nexthops through it (announced as a delete of a route through just those) and the
 * route stays with the others. Any other delete takes the route.
 */
function afterDelete(held: KernelRoute, deleted: KernelRoute): KernelRoute | undefined {
  if (held.family !== 6 || held.target.kind !== "gateways" || deleted.target.kind !== "gateways")
    return undefined;
  const gone = new Set(deleted.target.nexthops.map((hop) => `${hop.gateway}@${hop.dev}`));
  const left = held.target.nexthops.filter((hop) => !gone.has(`${hop.gateway}@${hop.dev}`));
  if (left.length === 0 || left.length === held.target.nexthops.length) return undefined;
  return { ...held, target: { kind: "gateways", nexthops: left } };
}

/**
 * What a held route is after another program appended or prepended a route at its key
 * (a notification without `replaced`). IPv4 keeps theirs as a second route beside ours,
 * and so does IPv6 unless both go through gateways inline: then theirs joins ours as
 * more nexthops, after ours, and the kernel dumps the joined route as ours. It is
 * announced in their name, their nexthops first (driver-fake's route-append.ts), and
 * the view takes the joined route as a dump would show it, so the drift is repaired:
 * their gateway goes. It cannot be kept apart (README, "Other programs' routes at
 * kroute's keys"): a dump, and an append of several gateways, show it as kroute's, and
 * any replace or delete of kroute's route takes it with the rest.
 */
function afterJoin(held: KernelRoute, appended: KernelRoute): KernelRoute | undefined {
  if (held.family !== 6 || held.target.kind !== "gateways" || appended.target.kind !== "gateways")
    return undefined;
  const have = new Set(held.target.nexthops.map((hop) => `${hop.gateway}@${hop.dev}`));
  const added = appended.target.nexthops.filter((hop) => !have.has(`${hop.gateway}@${hop.dev}`));
  if (added.length === 0) return undefined;
  return { ...held, target: { kind: "gateways", nexthops: [...held.target.nexthops, ...added] } };
}

/** kroute's route at its key, or none there (then others' routes at the key are no longer kept). */
function putRoute(kernel: OwnedKernelState, route: KernelRoute, present: boolean): OwnedKernelState {
  const key = sharedRouteKey(route);
  return present
    ? { ...kernel, routes: hmSet(kernel.routes, key, route) }
    : { ...kernel, routes: hmDelete(kernel.routes, key), sharers: forgetSharersAt(kernel.sharers, key) };
}

function putRule(kernel: OwnedKernelState, rule: KernelRule, present: boolean): OwnedKernelState {
  const key = ruleKey(rule);
  return { ...kernel, rules: present ? hmSet(kernel.rules, key, rule) : hmDelete(kernel.rules, key) };
}

/**
 * Another program's route changed at a key. Theirs is never touched; at kroute's key it
 * is kept beside kroute's (key-sharers.ts), and kroute's is gone only if a replace of
 * theirs took kroute's route rather than one of theirs that led the key.
 */
function othersRouteChanged(
  kernel: OwnedKernelState,
  change: KernelChange & { kind: "route" },
  settings: Ownership,
  touched: Touched,
): OwnedKernelState {
  const next = sharersChanged(kernel, change, touched);
  const nexthopUsers = usersAfter(kernel, change, throughRange(settings), touched);
  return nexthopUsers === kernel.nexthopUsers ? next : { ...next, nexthopUsers };
}

/** Others' routes through kroute's range after a notification of one of theirs (nexthop-users.ts). */
function usersAfter(
  kernel: OwnedKernelState,
  change: KernelChange & { kind: "route" },
  through: ThroughRange,
  touched: Touched,
): OwnedKernelState["nexthopUsers"] {
  const users = kernel.nexthopUsers;
  const changedAt = usersChangedAt(kernel.nexthops, touched);
  if (change.action === "del") return userDeleted(users, change.route, through, changedAt);
  if (change.replaced !== true) return userAdded(users, change.route, through, changedAt);
  const key = routeKey(change.route);
  const held = hmGet(kernel.routes, key);
  if (held === undefined) return userReplaced(users, change.route, undefined, through, changedAt);
  // At kroute's key, the key's sharers tell which route the replace took.
  const at = hmGet(kernel.sharers, key);
  const taken = replacedAt(held, at, change.route);
  const old = typeof taken === "string" ? undefined : at?.[taken.where][taken.index];
  return userReplaced(users, change.route, old, through, changedAt);
}

/** kroute's route and the others' beside it at the notified route's key (key-sharers.ts). */
function sharersChanged(
  kernel: OwnedKernelState,
  change: KernelChange & { kind: "route" },
  touched: Touched,
): OwnedKernelState {
  const held = hmGet(kernel.routes, routeKey(change.route));
  if (held === undefined) return kernel;
  if (change.action === "del") return { ...kernel, sharers: sharerDeleted(kernel.sharers, change.route) };
  if (change.replaced === true) {
    const taken = replacedAt(held, hmGet(kernel.sharers, routeKey(change.route)), change.route);
    if (taken === "none") return kernel;
    if (taken !== "ours")
      return { ...kernel, sharers: sharerReplaced(kernel.sharers, change.route, taken.where, taken.index) };
    touched.push(routeObjectKey(change.route));
    return putRoute(kernel, change.route, false);
  }
  const joined = afterJoin(held, change.route);
  if (joined === undefined)
    return { ...kernel, sharers: sharerAdded(kernel.sharers, change.route, change.appended === true) };
  touched.push(routeObjectKey(held));
  return putRoute(kernel, joined, true);
}

/** Applies one successful op to the owned state. */
export function applyOp(kernel: OwnedKernelState, op: Op, touched: Touched = []): OwnedKernelState {
  switch (op.object) {
    case "route": {
      const route = op.action === "delete" ? op.from : op.to;
      touched.push(routeObjectKey(route));
      return putRoute(kernel, route, op.action !== "delete");
    }
    case "nexthop":
      // An adopted nexthop also held its id (holdsOthersId): deleted, the id is free.
      if (op.action === "delete")
        return deleteNexthopsCascade(withOthersNexthop(kernel, op.from, false), [op.from.id], touched);
      touched.push(`n|${op.to.id}`);
      regrouped(kernel, op.to, touched);
      return { ...kernel, nexthops: hmSet(kernel.nexthops, String(op.to.id), op.to) };
    case "rule": {
      const rule = op.action === "delete" ? op.from : op.to;
      touched.push(`u|${ruleKey(rule)}`);
      return putRule(kernel, rule, op.action === "add");
    }
  }
}

/**
 * Applies ops the kernel accepted, in order (a plan's results fed back). A run of
 * nexthop deletes, as a plan orders them (after the routes), is flushed in one scan of
 * the owned routes, not one scan per delete: a node leaving a pool deletes a dozen.
 */
export function applyAccepted(
  kernel: OwnedKernelState,
  ops: readonly Op[],
  touched: Touched = [],
): OwnedKernelState {
  let next = kernel;
  for (let i = 0; i < ops.length; ) {
    const deleted: KernelNexthop[] = [];
    for (let op = ops[i]; op?.object === "nexthop" && op.action === "delete"; op = ops[++i])
      deleted.push(op.from);
    if (deleted.length === 0) {
      next = applyOp(next, ops[i] as Op, touched);
      i++;
      continue;
    }
    // An adopted nexthop also held its id (holdsOthersId): deleted, the id is free.
    for (const nexthop of deleted) next = withOthersNexthop(next, nexthop, false);
    next = deleteNexthopsCascade(
      next,
      deleted.map((nexthop) => nexthop.id),
      touched,
    );
  }
  return next;
}

/** Applies ops in order, as a kernel that accepts them all would. */
export function applyOps(kernel: OwnedKernelState, ops: readonly Op[]): OwnedKernelState {
  return ops.reduce((state, op) => applyOp(state, op), kernel);
}

/**
 * Applies one change notification. Foreign objects are ignored, but for the ids of
 * kroute's range others' nexthops take or give back; link and address changes update
 * the lists; an overflow marks the state incomplete (a resync is due).
 */
export function applyKernelChange(
  kernel: OwnedKernelState,
  change: KernelChange,
  settings: Ownership,
  touched: Touched = [],
): OwnedKernelState {
  switch (change.kind) {
    case "route":
      if (!ownsRoute(change.route, settings)) return othersRouteChanged(kernel, change, settings, touched);
      touched.push(routeObjectKey(change.route));
      if (change.action === "new") return putRoute(kernel, change.route, true);
      {
        const held = hmGet(kernel.routes, routeKey(change.route));
        if (held === undefined) return kernel;
        const left = afterDelete(held, change.route);
        return left === undefined ? putRoute(kernel, change.route, false) : putRoute(kernel, left, true);
      }
    case "nexthop": {
      const holds = change.action === "new" && holdsOthersId(change.nexthop, settings);
      const next = withOthersNexthop(kernel, change.nexthop, holds);
      if (!ownsNexthop(change.nexthop, settings)) {
        // Someone replaced our object with theirs (same id): ours is gone, theirs is never touched.
        const replaced =
          change.action === "new" && hmGet(next.nexthops, String(change.nexthop.id)) !== undefined;
        // Theirs deleted: the routes through it went with it.
        if (!replaced) return change.action === "del" ? forgetUsersOfGone(next, kernel, touched) : next;
        touched.push(`n|${change.nexthop.id}`);
        return { ...next, nexthops: hmDelete(next.nexthops, String(change.nexthop.id)) };
      }
      if (change.action === "del") return deleteNexthopsCascade(next, [change.nexthop.id], touched);
      touched.push(`n|${change.nexthop.id}`);
      regrouped(next, change.nexthop, touched);
      return { ...next, nexthops: hmSet(next.nexthops, String(change.nexthop.id), change.nexthop) };
    }
    case "rule":
      if (!ownsRule(change.rule, settings)) return kernel;
      touched.push(`u|${ruleKey(change.rule)}`);
      return putRule(kernel, change.rule, change.action === "new");
    case "link": {
      const links = kernel.links.filter((l) => l.index !== change.link.index);
      const next = { ...kernel, links: change.action === "new" ? [...links, change.link] : links };
      const dev = change.link.name;
      if (change.action === "new" && change.link.up && change.link.carrier) return next;
      const ownFlushed = flushNexthopsOn(next, dev, touched);
      const ownGone = new Set<number>();
      hmForEach(next.nexthops, (nexthop, key) => {
        if (!hmHas(ownFlushed.nexthops, key)) ownGone.add(nexthop.id);
      });
      const flushed = forgetUsersOfGone(forgetOthersFlushedWith(ownFlushed, dev, ownGone), next, touched);
      if (change.action === "del") return flushInlineV4On(flushed, dev, "any", touched);
      if (!change.link.up) return flushInlineV4On(flushed, dev, "all", touched);
      // A lost carrier keeps IPv4 routes; others' through nexthop objects may be gone.
      return { ...flushed, sharers: forgetSharersFlushed(flushed.sharers, () => false) };
    }
    case "address": {
      const a = change.address;
      const addresses = kernel.addresses.filter(
        (x) => !(x.ip === a.ip && x.dev === a.dev && x.prefixLength === a.prefixLength),
      );
      const next = { ...kernel, addresses: change.action === "new" ? [...addresses, a] : addresses };
      // A device's last IPv4 address gone, Linux disables IPv4 on it (fib_disable_ip):
      // IPv4 routes whose every nexthop is there go, silently, as on administrative down.
      const lastV4Gone =
        change.action === "del" &&
        familyOf(a.ip) === 4 &&
        !addresses.some((x) => x.dev === a.dev && familyOf(x.ip) === 4);
      return lastV4Gone ? flushInlineV4On(next, a.dev, "all", touched) : next;
    }
    case "overflow":
      return { ...kernel, complete: false };
  }
}

/** Every owned object as arrays (for tests, the simulator and status). */
export function ownedObjects(kernel: OwnedKernelState): {
  routes: KernelRoute[];
  nexthops: KernelNexthop[];
  rules: KernelRule[];
} {
  return {
    routes: [...hmValues(kernel.routes)],
    nexthops: [...hmValues(kernel.nexthops)],
    rules: [...hmValues(kernel.rules)],
  };
}
