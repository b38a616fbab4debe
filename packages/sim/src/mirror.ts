/**
 * A mirror of the kroute-owned objects of one kernel, kept from the ops that
 * succeeded, indexed by gateway so that "which routes go through gateway G" costs in
 * proportion to the answer, not to the table. The replay uses one per node to check
 * health invariants cheaply, and one per recorded node to follow what the recording
 * agent's kernel held (from its recorded dataplane/applied results).
 */
import {
  coversDefault,
  type IpAddr,
  type KernelChange,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  type Op,
  type OpResult,
  ruleKey,
  sharedRouteKey,
} from "@kroute/core";
import { routeGateways, routeHops } from "./format.ts";

function addTo<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(index: Map<K, Set<V>>, key: K, value: V): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) index.delete(key);
}

export class OwnedMirror {
  readonly routes = new Map<string, KernelRoute>();
  readonly nexthops = new Map<number, KernelNexthop>();
  readonly rules = new Map<string, KernelRule>();
  /** Default routes (/0, or the halves of a split override) by key: overrides are checked only when one exists. */
  readonly defaultRoutes = new Map<string, KernelRoute>();
  /** Gateway → keys of routes naming it inline. */
  private readonly inlineByGateway = new Map<string, Set<string>>();
  /** Nexthop id → keys of routes pointing at it. */
  private readonly routesByNexthop = new Map<number, Set<string>>();
  /** Gateway → ids of gateway nexthops. */
  private readonly leavesByGateway = new Map<string, Set<number>>();
  /** Member id → ids of groups containing it. */
  private readonly groupsByMember = new Map<number, Set<number>>();

  reset(
    snapshot: Pick<KernelSnapshot, "routes" | "nexthops" | "rules">,
    owned: (protocol: number) => boolean,
  ): void {
    for (const route of [...this.routes.values()]) this.removeRoute(route);
    for (const nh of [...this.nexthops.values()]) this.removeNexthop(nh);
    this.rules.clear();
    for (const nh of snapshot.nexthops) if (owned(nh.protocol)) this.putNexthop(nh);
    for (const route of snapshot.routes) if (owned(route.protocol)) this.putRoute(route);
    for (const rule of snapshot.rules) if (owned(rule.protocol)) this.rules.set(ruleKey(rule), rule);
  }

  /**
   * Drops routes (by key) and nexthops (by id, with Linux's cascade) that a kernel
   * flushed without a word (a link losing carrier or going down): the recorded mirror
   * loses what the replay's kernel lost, as the recording host's kernel did.
   */
  forget(routeKeys: Iterable<string>, nexthopIds: Iterable<number>): void {
    for (const key of routeKeys) {
      const route = this.routes.get(key);
      if (route !== undefined) this.removeRoute(route);
    }
    for (const id of nexthopIds) {
      const nh = this.nexthops.get(id);
      if (nh !== undefined) this.deleteNexthop(nh);
    }
  }

  /** Follows one op that the kernel accepted. */
  apply(op: Op): void {
    switch (op.object) {
      case "route":
        if (op.action !== "add") this.removeRoute(op.from);
        if (op.action !== "delete") this.putRoute(op.to);
        return;
      case "nexthop":
        if (op.action === "delete") this.deleteNexthop(op.from);
        else this.putNexthop(op.to);
        return;
      case "rule":
        if (op.action === "add") this.rules.set(ruleKey(op.to), op.to);
        else this.rules.delete(ruleKey(op.from));
        return;
      default: {
        const unreachable: never = op;
        throw new Error(`unknown op ${JSON.stringify(unreachable)}`);
      }
    }
  }

  /** Follows one kernel change notification about an owned object. */
  applyChange(change: KernelChange): void {
    switch (change.kind) {
      case "route":
        if (change.action === "new") this.putRoute(change.route);
        else this.removeRoute(change.route);
        return;
      case "nexthop":
        if (change.action === "new") this.putNexthop(change.nexthop);
        else this.deleteNexthop(change.nexthop);
        return;
      case "rule":
        if (change.action === "new") this.rules.set(ruleKey(change.rule), change.rule);
        else this.rules.delete(ruleKey(change.rule));
        return;
      case "link":
      case "address":
      case "overflow":
        return;
      default: {
        const unreachable: never = change;
        throw new Error(`unknown kernel change ${JSON.stringify(unreachable)}`);
      }
    }
  }

  applyResults(results: readonly { readonly op: Op; readonly result: OpResult }[]): void {
    for (const { op, result } of results) if (result.ok) this.apply(op);
  }

  /**
   * Owned routes that forward through `gateway`, grouped by what they point at: routes
   * sharing a nexthop object share their gateways, so one representative of each stands
   * for all of them (`count`). Costs in proportion to the objects involved, not the routes.
   */
  routesVia(gateway: IpAddr): { route: KernelRoute; count: number }[] {
    const found: { route: KernelRoute; count: number }[] = [];
    for (const key of this.inlineByGateway.get(gateway) ?? []) {
      const route = this.routes.get(key);
      if (route !== undefined) found.push({ route, count: 1 });
    }
    const objects = new Set<number>();
    for (const leaf of this.leavesByGateway.get(gateway) ?? []) {
      objects.add(leaf);
      for (const group of this.groupsByMember.get(leaf) ?? []) objects.add(group);
    }
    for (const id of objects) {
      const users = this.routesByNexthop.get(id);
      if (users === undefined) continue;
      for (const key of users) {
        const route = this.routes.get(key);
        if (route !== undefined) found.push({ route, count: users.size });
        break;
      }
    }
    return found;
  }

  /** Gateways of the objects an op wrote (a group's members resolved). */
  gatewaysWritten(op: Op): IpAddr[] {
    if (op.action === "delete" || op.object === "rule") return [];
    if (op.object === "route") return routeHops(op.to, this.nexthops).map((h) => h.gateway);
    const nh = op.to;
    if (nh.kind === "gateway") return [nh.gateway];
    if (nh.kind === "opaque") return [];
    const gateways: IpAddr[] = [];
    for (const member of nh.members) {
      const leaf = this.nexthops.get(member.id);
      if (leaf?.kind === "gateway") gateways.push(leaf.gateway);
    }
    return gateways;
  }

  gatewaysOf(route: KernelRoute): IpAddr[] {
    return routeGateways(route, this.nexthops);
  }

  private putRoute(route: KernelRoute): void {
    // Keys are shared with the core and every other node holding the same route object.
    const key = sharedRouteKey(route);
    const previous = this.routes.get(key);
    // A kernel re-announcing the route object it holds changes nothing: with
    // nexthop_compat_mode a probe flip re-announces every route through the group
    // (hundreds per flip in scripts/bench/sim-scale.ts).
    if (previous === route) return;
    if (previous !== undefined) this.removeRoute(previous);
    this.routes.set(key, route);
    if (coversDefault(route.dst)) this.defaultRoutes.set(key, route);
    if (route.target.kind === "gateways")
      for (const nh of route.target.nexthops) addTo(this.inlineByGateway, nh.gateway, key);
    else if (route.target.kind === "nexthop-object") addTo(this.routesByNexthop, route.target.id, key);
  }

  private removeRoute(route: KernelRoute): void {
    const key = sharedRouteKey(route);
    const stored = this.routes.get(key);
    if (stored === undefined) return;
    this.routes.delete(key);
    this.defaultRoutes.delete(key);
    if (stored.target.kind === "gateways") {
      for (const nh of stored.target.nexthops) removeFrom(this.inlineByGateway, nh.gateway, key);
    } else if (stored.target.kind === "nexthop-object")
      removeFrom(this.routesByNexthop, stored.target.id, key);
  }

  private putNexthop(nh: KernelNexthop): void {
    const previous = this.nexthops.get(nh.id);
    if (previous !== undefined) this.removeNexthop(previous);
    this.nexthops.set(nh.id, nh);
    if (nh.kind === "gateway") addTo(this.leavesByGateway, nh.gateway, nh.id);
    else if (nh.kind === "group")
      for (const member of nh.members) addTo(this.groupsByMember, member.id, nh.id);
  }

  /**
   * A nexthop deleted, with Linux's cascade, which it does not announce route by route:
   * the routes using it go, the groups holding it shrink, and a group left empty goes
   * with its routes.
   */
  private deleteNexthop(nh: KernelNexthop): void {
    const groups = [...(this.groupsByMember.get(nh.id) ?? [])];
    for (const key of [...(this.routesByNexthop.get(nh.id) ?? [])]) {
      const route = this.routes.get(key);
      if (route !== undefined) this.removeRoute(route);
    }
    this.removeNexthop(nh);
    for (const id of groups) {
      const group = this.nexthops.get(id);
      if (group?.kind !== "group") continue;
      const members = group.members.filter((member) => member.id !== nh.id);
      if (members.length === 0) this.deleteNexthop(group);
      else this.putNexthop({ ...group, members });
    }
  }

  private removeNexthop(nh: KernelNexthop): void {
    const stored = this.nexthops.get(nh.id);
    if (stored === undefined) return;
    this.nexthops.delete(nh.id);
    if (stored.kind === "gateway") removeFrom(this.leavesByGateway, stored.gateway, stored.id);
    else if (stored.kind === "group")
      for (const member of stored.members) removeFrom(this.groupsByMember, member.id, stored.id);
  }
}
