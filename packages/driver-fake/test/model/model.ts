/**
 * The simple model the engine is checked against: which Routes exist, which
 * gateways probe down, which foreign objects were added. From it, what the kernel
 * must route where, computed without any of the engine's machinery: per
 * (table, destination), the oldest Route naming it wins; its gateways of the
 * destination's family, minus those probed down when it probes (all of them when
 * every one is down: fail-static). An IPv4 default destination also brings the
 * override's protected routes and reply rule.
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

/**
 * The node the model assumes (see world.ts): its original IPv4 default route goes
 * via 10.0.0.1 on eth0, where the node has 10.0.0.10; IPv6 has no default route.
 */
const ORIGINAL_GATEWAY = "10.0.0.1";
const NODE_ADDRESS_ON_ORIGINAL_DEV = "10.0.0.10/32" as Prefix;
/** The API server, the resolver and the metadata address keep using the original gateway. */
const PROTECTED = ["203.0.113.100/32", "198.51.100.53/32", "169.254.169.254/32"];

function overridesDefault(route: ModelRoute): boolean {
  return (
    route.destinations.includes("0.0.0.0/0") && route.gateways.some((gateway) => familyOf(gateway) === 4)
  );
}

/**
 * An IPv4 default-route override keeps protected host routes on the original
 * gateway in the override's table, a default route via it in the reply table, and
 * a rule sending replies from the node's own address there.
 */
function overrideRouting(model: Model, settings: OverrideSettings): Map<string, string[]> {
  const routing = new Map<string, string[]>();
  for (const route of model.routes.values()) {
    if (!overridesDefault(route)) continue;
    for (const dst of PROTECTED) routing.set(`4|${route.table ?? 254}|${dst}`, [ORIGINAL_GATEWAY]);
    routing.set(`4|${settings.replyTable}|0.0.0.0/0`, [ORIGINAL_GATEWAY]);
  }
  return routing;
}

export interface OverrideSettings {
  readonly replyTable: number;
  readonly replyRulePriority: number;
  readonly protocol: number;
}

export function expectedRules(model: Model, settings: OverrideSettings): KernelRule[] {
  if (![...model.routes.values()].some(overridesDefault)) return [];
  return [
    // Main first, without its routes of prefix length 1 or less: only what would take a
    // default route goes on to the reply rule.
    {
      family: 4,
      priority: settings.replyRulePriority - 1,
      table: 254,
      protocol: settings.protocol,
      suppressPrefixLength: 1,
    },
    {
      family: 4,
      priority: settings.replyRulePriority,
      src: NODE_ADDRESS_ON_ORIGINAL_DEV,
      table: settings.replyTable,
      protocol: settings.protocol,
    },
  ];
}

/** `family|table|dst` → the gateways traffic must be able to take there, sorted. */
export function expectedRouting(model: Model, settings: OverrideSettings): Map<string, string[]> {
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
  const routing = overrideRouting(model, settings);
  for (const route of ordered) {
    for (const destination of route.destinations) {
      const parsed = parsePrefix(destination);
      if (!parsed.ok) continue;
      const family = familyOf(parsed.value);
      const gateways = route.gateways.filter((gateway) => familyOf(gateway) === family);
      if (gateways.length === 0) continue;
      const key = `${family}|${route.table ?? 254}|${parsed.value}`;
      if (winners.has(key) || routing.has(key)) continue;
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
    if (nexthop.kind === "opaque") return [nexthop.type];
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
