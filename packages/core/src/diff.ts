/**
 * diff(desired, observed): the ops that turn kroute's owned kernel state into the
 * desired one, in an order the kernel accepts and that never leaves a route pointing
 * at a missing nexthop: gateway nexthops, then groups, then routes, then rules are
 * added or replaced; then rules, routes, groups and gateway nexthops are deleted.
 *
 * Only objects in the owned state (kroute's protocol, its id range) or in the desired
 * table are ever named. Nothing is deleted unless `prune` (every source synced and
 * the kernel dump complete), nor a nexthop another program's route uses (nexthop-users.ts).
 */
import { sameNexthop, sameRoute } from "./canonical.ts";
import { hmEntries, hmForEach, hmGet, hmKeys, hmValues } from "./hashmap.ts";
import { prefixContains, prefixLength } from "./ip.ts";
import {
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type Op,
  routeKey,
  ruleKey,
} from "./kernel.ts";
import { keptForOthers } from "./nexthop-users.ts";
import { nexthopSortKey, routeSortKey, ruleSortKey, sortByKey } from "./order.ts";
import type { DesiredTable } from "./outcome.ts";
import { coversDefault } from "./override.ts";
import type { OwnedKernelState } from "./state.ts";

export interface DiffOptions {
  /** False until every input source has synced and the kernel dump was complete: no deletes at all. */
  readonly prune: boolean;
}

export function routeOps(
  desired: KernelRoute | undefined,
  observed: KernelRoute | undefined,
  prune: boolean,
): Op[] {
  if (desired === undefined)
    return observed !== undefined && prune ? [{ object: "route", action: "delete", from: observed }] : [];
  if (observed === undefined) return [{ object: "route", action: "add", to: desired }];
  return sameRoute(desired, observed)
    ? []
    : [{ object: "route", action: "replace", from: observed, to: desired }];
}

/** The kernel cannot turn a gateway into a group (or change a group's type or bucket count) in place. */
function replaceable(from: KernelNexthop, to: KernelNexthop): boolean {
  if (from.kind !== to.kind) return false;
  if (from.kind === "group" && to.kind === "group") {
    return from.groupType === to.groupType && from.resilient?.buckets === to.resilient?.buckets;
  }
  return true;
}

export function nexthopOps(
  desired: KernelNexthop | undefined,
  observed: KernelNexthop | undefined,
  prune: boolean,
): Op[] {
  if (desired === undefined)
    return observed !== undefined && prune ? [{ object: "nexthop", action: "delete", from: observed }] : [];
  if (observed === undefined) return [{ object: "nexthop", action: "add", to: desired }];
  if (sameNexthop(desired, observed)) return [];
  if (replaceable(observed, desired))
    return [{ object: "nexthop", action: "replace", from: observed, to: desired }];
  return prune
    ? [
        { object: "nexthop", action: "delete", from: observed },
        { object: "nexthop", action: "add", to: desired },
      ]
    : [];
}

export function ruleOps(
  desired: KernelRule | undefined,
  observed: KernelRule | undefined,
  prune: boolean,
): Op[] {
  if (desired === undefined)
    return observed !== undefined && prune ? [{ object: "rule", action: "delete", from: observed }] : [];
  // A rule's key is all of its fields: a changed rule is another key, so a delete and an add
  // (Linux has no replace for rules).
  return observed === undefined ? [{ object: "rule", action: "add", to: desired }] : [];
}

/** What orderOps needs to know about a batch besides each op. */
interface Batch {
  /** Nexthop ids deleted and re-added in this batch. */
  readonly recreated: ReadonlySet<number>;
  /** Tables that kroute's rules point at, in this batch or in the kernel: their default routes and halves are reply routes, not overrides. */
  readonly ruleTables: ReadonlySet<number>;
  /** Routes added that hold another route added in the batch (containingAdds). */
  readonly containers: ReadonlySet<KernelRoute>;
  /** The nexthops desired and observed under an id, to tell the family of a group's members. */
  readonly desiredNexthop: (id: number) => KernelNexthop | undefined;
  readonly observedNexthop: (id: number) => KernelNexthop | undefined;
}

/** A default route (or half of one, see override.ts) that overrides the node's own, as opposed to the default of a reply table. */
function isOverride(route: KernelRoute, batch: Batch): boolean {
  return coversDefault(route.dst) && !batch.ruleTables.has(route.table);
}

/**
 * Phase of an op in the kernel-safe order. A nexthop deleted to be re-added as another
 * kind goes first (the kernel flushes the routes using it; they are re-added below).
 * A default-route override goes in after everything else, the protected host routes
 * and the reply rule in particular, and comes out before them (SPEC §3.5): at no
 * moment of an apply does a protected address or a reply follow the override. A route
 * added together with a more specific one it holds goes in after it, so that no address
 * follows the wider route on the way: the host routes that keep protected addresses on
 * the original gateway before a Route's 0.0.0.0/1 that holds them, say.
 */
function phase(op: Op, batch: Batch): number {
  switch (op.object) {
    case "nexthop":
      if (op.action === "delete") {
        if (batch.recreated.has(op.from.id)) return op.from.kind === "group" ? 0 : 1;
        return op.from.kind === "group" ? 11 : 12;
      }
      if (op.action === "replace" && turnsIpv4(op.from, op.to, batch)) return 10;
      return op.to.kind === "group" ? 3 : 2;
    case "route":
      if (op.action === "delete") return isOverride(op.from, batch) ? 7 : 9;
      if (isOverride(op.to, batch)) return 6;
      // After the more specific routes they hold, longest first (subjectSortKey): below
      // rules and overrides, whose protection may be such a holder (a --keep-original /24).
      return batch.containers.has(op.to) ? 4.5 : 4;
    case "rule":
      return op.action === "delete" ? 8 : 5;
  }
}

/**
 * A replace that puts an IPv4 gateway under an id that had none (nexthop ids are laid out
 * again on collisions, so an id can pass from an IPv6 object to an IPv4 one): Linux
 * refuses it while an IPv6 route uses the id, directly or through a group, so it waits
 * until the routes of the batch have moved to their new ids or gone (an IPv4 route added
 * meanwhile may use the id's IPv6 gateway for those few ops: Linux allows that). The
 * reverse move goes before the routes, as other replaces do.
 */
function turnsIpv4(from: KernelNexthop, to: KernelNexthop, batch: Batch): boolean {
  return holdsIpv4(to, batch.desiredNexthop) && !holdsIpv4(from, batch.observedNexthop);
}

function holdsIpv4(nexthop: KernelNexthop, lookup: (id: number) => KernelNexthop | undefined): boolean {
  if (nexthop.kind === "gateway") return nexthop.family === 4;
  if (nexthop.kind === "opaque") return false;
  return nexthop.members.some((member) => {
    const held = lookup(member.id);
    return held?.kind === "gateway" && held.family === 4;
  });
}

function subjectSortKey(op: Op): string {
  switch (op.object) {
    case "route":
      return routeSortKey(op.action === "delete" ? op.from : op.to);
    case "nexthop":
      return nexthopSortKey(op.action === "delete" ? op.from : op.to);
    case "rule":
      // Rules come out in the reverse of the order they go in: the reply rules before
      // the rule that lets main's specific routes go first (contribution.ts).
      return op.action === "delete" ? ruleSortKey(op.from, "last first") : ruleSortKey(op.to);
  }
}

/**
 * The routes added that strictly hold another route added in the batch, in the same
 * table. In address order a route's nearest follower of its table lies inside it if
 * anything added does (its range starts at its own address), so one sort finds them all.
 * Deletes need no such care: in address order the wider route goes out first.
 */
function containingAdds(ops: readonly Op[]): Set<KernelRoute> {
  const added = ops.flatMap((op) => (op.object === "route" && op.action === "add" ? [op.to] : []));
  const containers = new Set<KernelRoute>();
  if (added.length < 2) return containers;
  const sorted = sortByKey(added, routeSortKey);
  for (let i = 0; i + 1 < sorted.length; i++) {
    const outer = sorted[i] as KernelRoute;
    for (let j = i + 1; j < sorted.length; j++) {
      const inner = sorted[j] as KernelRoute;
      if (inner.dst === outer.dst) continue; // the same prefix at another metric
      if (
        inner.family === outer.family &&
        inner.table === outer.table &&
        // The length first: most neighbours are siblings of one length, and need no parse.
        prefixLength(inner.dst) > prefixLength(outer.dst) &&
        prefixContains(outer.dst, inner.dst)
      )
        containers.add(outer);
      break;
    }
  }
  return containers;
}

/** Holders of other routes of the batch: the longest prefix first, so that each goes in after what it holds. */
function containerSortKey(op: Op): string {
  const route = op.object === "route" && op.action !== "delete" ? op.to : undefined;
  if (route === undefined) return subjectSortKey(op);
  return `${route.family}|${pad3(128 - prefixLength(route.dst))}|${routeSortKey(route)}`;
}

function pad3(n: number): string {
  return String(n).padStart(3, "0");
}

/** Ids of nexthops that the ops delete and add again (a change of kind the kernel cannot replace). */
export function recreatedIds(ops: readonly Op[]): Set<number> {
  const deleted = new Set<number>();
  for (const op of ops) if (op.object === "nexthop" && op.action === "delete") deleted.add(op.from.id);
  const recreated = new Set<number>();
  for (const op of ops)
    if (op.object === "nexthop" && op.action === "add" && deleted.has(op.to.id)) recreated.add(op.to.id);
  return recreated;
}

/** Sorts ops into the kernel-safe order, deterministically. */
export function orderOps(
  ops: readonly Op[],
  desired: Pick<DesiredLookup, "nexthop">,
  observed: OwnedKernelState,
): Op[] {
  const ruleTables = new Set<number>();
  const pointsAt = (rule: KernelRule) => {
    // A rule that passes over a table's short routes (main's, before the reply rules)
    // never takes its default routes: they are no reply routes for it.
    if (rule.suppressPrefixLength === undefined) ruleTables.add(rule.table);
  };
  for (const op of ops) if (op.object === "rule") pointsAt(op.action === "delete" ? op.from : op.to);
  // The kernel's too: a batch that takes out a Route's half and its reply route but not
  // the reply rules (another half or an override still needs them) took the reply route
  // for an override, and out first (the reply table, 135, sorts before main): for a
  // moment the node's replies into that half followed the Route.
  hmForEach(observed.rules, pointsAt);
  const batch: Batch = {
    recreated: recreatedIds(ops),
    ruleTables,
    containers: containingAdds(ops),
    desiredNexthop: desired.nexthop,
    observedNexthop: (id) => hmGet(observed.nexthops, String(id)),
  };
  // By phase, then by the subject's key (built once per route object, see order.ts).
  // Comparing the two apart spares every op a fresh "phase|key" string, which the
  // sort then had to flatten: a label move sorts over 2,000 ops.
  const keyed = ops.map((op) => {
    const at = phase(op, batch);
    return { op, phase: at, key: at === 4.5 ? containerSortKey(op) : subjectSortKey(op) };
  });
  keyed.sort((a, b) => a.phase - b.phase || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map(({ op }) => op);
}

interface DesiredLookup {
  route(key: string): KernelRoute | undefined;
  nexthop(id: number): KernelNexthop | undefined;
}

/**
 * Deleting a nexthop makes the kernel drop groups left without members and flush
 * every route using either: such routes and groups are added again (when desired),
 * and ops on what is already gone are dropped. Only needed when a nexthop changes
 * kind, so the scan of the observed routes is rare.
 */
export function withCascade(ops: readonly Op[], desired: DesiredLookup, observed: OwnedKernelState): Op[] {
  const recreated = recreatedIds(ops);
  if (recreated.size === 0) return [...ops];
  const gone = new Set(recreated);
  for (const nexthop of hmValues(observed.nexthops)) {
    if (nexthop.kind === "group" && nexthop.members.every((m) => recreated.has(m.id))) gone.add(nexthop.id);
  }
  const flushed = (route: KernelRoute | undefined) =>
    route?.target.kind === "nexthop-object" && gone.has(route.target.id);
  const result: Op[] = [];
  const handled = new Set<string>();
  for (const op of ops) {
    if (op.object === "nexthop") {
      const id = op.action === "delete" ? op.from.id : op.to.id;
      if (gone.has(id) && !recreated.has(id)) {
        handled.add(`n|${id}`);
        if (op.action !== "delete") result.push({ object: "nexthop", action: "add", to: op.to });
        continue;
      }
    }
    if (op.object === "route") {
      const key = routeKey(op.action === "delete" ? op.from : op.to);
      if (flushed(hmGet(observed.routes, key))) {
        handled.add(`r|${key}`);
        if (op.action !== "delete") result.push({ object: "route", action: "add", to: op.to });
        continue;
      }
    }
    result.push(op);
  }
  for (const id of gone) {
    const wanted = recreated.has(id) || handled.has(`n|${id}`) ? undefined : desired.nexthop(id);
    if (wanted !== undefined) result.push({ object: "nexthop", action: "add", to: wanted });
  }
  for (const [key, route] of hmEntries(observed.routes)) {
    if (!flushed(route) || handled.has(`r|${key}`)) continue;
    const wanted = desired.route(key);
    if (wanted !== undefined) result.push({ object: "route", action: "add", to: wanted });
  }
  return result;
}

export function diff(
  desired: Pick<DesiredTable, "routes" | "nexthops" | "rules">,
  observed: OwnedKernelState,
  options: DiffOptions,
): Op[] {
  const ops: Op[] = [];
  const routes = new Map(desired.routes.map((r) => [routeKey(r), r]));
  for (const [key, route] of routes) ops.push(...routeOps(route, hmGet(observed.routes, key), options.prune));
  for (const key of hmKeys(observed.routes)) {
    if (!routes.has(key)) ops.push(...routeOps(undefined, hmGet(observed.routes, key), options.prune));
  }
  const nexthops = new Map(desired.nexthops.map((n) => [String(n.id), n]));
  for (const [key, nexthop] of nexthops)
    ops.push(...nexthopOps(nexthop, hmGet(observed.nexthops, key), options.prune));
  for (const key of hmKeys(observed.nexthops)) {
    if (nexthops.has(key) || keptForOthers(observed.nexthopUsers, observed.nexthops, Number(key))) continue;
    ops.push(...nexthopOps(undefined, hmGet(observed.nexthops, key), options.prune));
  }
  const rules = new Map(desired.rules.map((r) => [ruleKey(r), r]));
  for (const [key, rule] of rules) ops.push(...ruleOps(rule, hmGet(observed.rules, key), options.prune));
  for (const key of hmKeys(observed.rules)) {
    if (!rules.has(key)) ops.push(...ruleOps(undefined, hmGet(observed.rules, key), options.prune));
  }
  const lookup = {
    route: (key: string) => routes.get(key),
    nexthop: (id: number) => nexthops.get(String(id)),
  };
  return orderOps(withCascade(ops, lookup, observed), lookup, observed);
}
