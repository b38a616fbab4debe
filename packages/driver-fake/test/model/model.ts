/**
 * The simple model the engine is checked against: which Routes exist, which
 * gateways probe down, which foreign objects were added. From it, what the kernel
 * must route where, computed without any of the engine's machinery: per
 * (table, destination), the oldest Route naming it wins; its gateways of the
 * destination's family, minus those probed down when it probes (all of them when
 * every one is down: fail-static).
 */
import {
  familyOf,
  type IpAddr,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  type Prefix,
  parsePrefix,
} from "@kroute/core";

export interface ModelRoute {
  readonly name: string;
  readonly creationTimestamp: string;
  readonly destinations: readonly string[];
  readonly gateways: readonly IpAddr[];
  readonly probe: boolean;
  readonly table?: number;
}

export interface Model {
  readonly routes: Map<string, ModelRoute>;
  readonly down: Set<IpAddr>;
  /** Foreign objects that must survive every reconcile untouched. */
  readonly foreignRoutes: KernelRoute[];
  readonly foreignNexthops: KernelNexthop[];
  readonly foreignRules: KernelRule[];
}

export function emptyModel(): Model {
  return { routes: new Map(), down: new Set(), foreignRoutes: [], foreignNexthops: [], foreignRules: [] };
}

/** `family|table|dst` → the gateways traffic must be able to take there, sorted. */
export function expectedRouting(model: Model): Map<string, string[]> {
  const winners = new Map<string, ModelRoute>();
  const ordered = [...model.routes.values()].sort((a, b) =>
    a.creationTimestamp === b.creationTimestamp
      ? a.name < b.name
        ? -1
        : 1
      : a.creationTimestamp < b.creationTimestamp
        ? -1
        : 1,
  );
  const routing = new Map<string, string[]>();
  for (const route of ordered) {
    for (const destination of route.destinations) {
      const parsed = parsePrefix(destination);
      if (!parsed.ok) continue;
      const family = familyOf(parsed.value);
      const gateways = route.gateways.filter((gateway) => familyOf(gateway) === family);
      if (gateways.length === 0) continue;
      const key = `${family}|${route.table ?? 254}|${parsed.value}`;
      if (winners.has(key)) continue;
      winners.set(key, route);
      const up = route.probe ? gateways.filter((gateway) => !model.down.has(gateway)) : gateways;
      routing.set(key, [...new Set(up.length > 0 ? up : gateways)].sort());
    }
  }
  return routing;
}

/** Where the kernel sends a route's traffic: its gateways, through nexthop objects if need be. */
export function kernelGateways(route: KernelRoute, nexthops: readonly KernelNexthop[]): string[] {
  const byId = new Map(nexthops.map((nexthop) => [nexthop.id, nexthop]));
  const resolve = (id: number): string[] => {
    const nexthop = byId.get(id);
    if (nexthop === undefined) return [`missing nexthop ${id}`];
    return nexthop.kind === "gateway"
      ? [nexthop.gateway]
      : nexthop.members.flatMap((member) => resolve(member.id));
  };
  const target = route.target;
  switch (target.kind) {
    case "gateways":
      return [...new Set(target.nexthops.map((nexthop) => nexthop.gateway))].sort();
    case "nexthop-object":
      return [...new Set(resolve(target.id))].sort();
    case "device":
      return [`dev ${target.dev}`];
    case "special":
      return [target.type];
  }
}

/** The kernel's routing, as the model states it, for the routes of one protocol. */
export function observedRouting(snapshot: KernelSnapshot, protocol: number): Map<string, string[]> {
  const routing = new Map<string, string[]>();
  for (const route of snapshot.routes) {
    if (route.protocol !== protocol) continue;
    routing.set(
      `${route.family}|${route.table}|${route.dst as Prefix}`,
      kernelGateways(route, snapshot.nexthops),
    );
  }
  return routing;
}
