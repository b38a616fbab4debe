/**
 * Kernel objects as `ip route` / `ip rule` / `ip nexthop` style lines, and routes
 * resolved to the gateways they actually use (nexthop groups followed to their
 * members) for `--json`. Sorted so that output is deterministic.
 */
import {
  compareAddresses,
  comparePrefixes,
  familyOf,
  type IpAddr,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  maxPrefixLength,
  type Op,
  type Prefix,
  prefixAddress,
  prefixLength,
} from "@kroute/core";

export type NexthopIndex = ReadonlyMap<number, KernelNexthop>;

export function indexNexthops(nexthops: readonly KernelNexthop[]): NexthopIndex {
  return new Map(nexthops.map((nh) => [nh.id, nh]));
}

export function compareRoutes(a: KernelRoute, b: KernelRoute): number {
  return a.table - b.table || a.family - b.family || comparePrefixes(a.dst, b.dst) || a.metric - b.metric;
}

interface Hop {
  readonly gateway: IpAddr;
  readonly dev: string;
  readonly weight: number;
}

/** The gateways a route forwards to; undefined members of a group are skipped. */
export function routeHops(route: KernelRoute, nexthops: NexthopIndex): Hop[] {
  const target = route.target;
  switch (target.kind) {
    case "gateways":
      return target.nexthops.map((nh) => ({ gateway: nh.gateway, dev: nh.dev, weight: nh.weight }));
    case "nexthop-object": {
      const nh = nexthops.get(target.id);
      if (nh === undefined) return [];
      if (nh.kind === "gateway") return [{ gateway: nh.gateway, dev: nh.dev, weight: 1 }];
      if (nh.kind === "opaque") return [];
      const hops: Hop[] = [];
      for (const member of nh.members) {
        const leaf = nexthops.get(member.id);
        if (leaf?.kind === "gateway")
          hops.push({ gateway: leaf.gateway, dev: leaf.dev, weight: member.weight });
      }
      return hops;
    }
    case "device":
    case "special":
      return [];
    default: {
      const unreachable: never = target;
      return unreachable;
    }
  }
}

export function routeGateways(route: KernelRoute, nexthops: NexthopIndex): IpAddr[] {
  return [...new Set(routeHops(route, nexthops).map((h) => h.gateway))].sort(compareAddresses);
}

/**
 * A prefix as `ip route` and `ip rule` print it: a host prefix (/32, /128) as the bare
 * address, since iproute2 gives the length only when it is shorter than the address.
 */
function ipPrefix(prefix: Prefix): string {
  return prefixLength(prefix) === maxPrefixLength(familyOf(prefix)) ? prefixAddress(prefix) : prefix;
}

/** A route's destination as `ip route` prints it: the default route (either family) as `default`. */
function routeDst(prefix: Prefix): string {
  return prefixLength(prefix) === 0 ? "default" : ipPrefix(prefix);
}

function tail(route: KernelRoute): string {
  const table = route.table === 254 ? "" : ` table ${route.table}`;
  const scope =
    route.scope === 0
      ? ""
      : ` scope ${route.scope === 253 ? "link" : route.scope === 254 ? "host" : route.scope}`;
  const src = route.prefsrc === undefined ? "" : ` src ${route.prefsrc}`;
  return `${table} proto ${route.protocol}${scope}${src} metric ${route.metric}`;
}

/** One route as `ip route` prints it: a head line, plus one line per member for multipath. */
export function formatRoute(route: KernelRoute, nexthops: NexthopIndex): string[] {
  const target = route.target;
  const dst = routeDst(route.dst);
  switch (target.kind) {
    case "gateways": {
      const [only] = target.nexthops;
      if (target.nexthops.length === 1 && only !== undefined) {
        return [`${dst} via ${only.gateway} dev ${only.dev}${tail(route)}`];
      }
      return [
        `${dst}${tail(route)}`,
        ...target.nexthops.map((nh) => `\tnexthop via ${nh.gateway} dev ${nh.dev} weight ${nh.weight}`),
      ];
    }
    case "nexthop-object": {
      const nh = nexthops.get(target.id);
      if (nh?.kind === "gateway")
        return [`${dst} nhid ${target.id} via ${nh.gateway} dev ${nh.dev}${tail(route)}`];
      const members = routeHops(route, nexthops).map(
        (h) => `\tnexthop via ${h.gateway} dev ${h.dev} weight ${h.weight}`,
      );
      const missing = nh === undefined ? " (nexthop missing)" : "";
      return [`${dst} nhid ${target.id}${tail(route)}${missing}`, ...members];
    }
    case "device":
      return [`${dst} dev ${target.dev}${tail(route)}`];
    case "special":
      return [`${target.type} ${dst}${tail(route)}`];
    default: {
      const unreachable: never = target;
      return unreachable;
    }
  }
}

/** The names `ip rule` gives the kernel's own tables. */
const TABLE_NAMES: ReadonlyMap<number, string> = new Map([
  [253, "default"],
  [254, "main"],
  [255, "local"],
]);

/**
 * One rule as `ip rule` prints it. suppress_prefixlength is what makes the override's
 * `lookup main` rule pass default routes over (the reply rule's table gets them): a line
 * without it reads as a rule that sends everything to main, and differs from the table
 * `ip rule` shows on the node.
 */
export function formatRule(rule: KernelRule): string {
  const from = rule.src === undefined ? "all" : ipPrefix(rule.src);
  const to = rule.dst === undefined ? "" : ` to ${ipPrefix(rule.dst)}`;
  const table = TABLE_NAMES.get(rule.table) ?? String(rule.table);
  const suppress =
    rule.suppressPrefixLength === undefined ? "" : ` suppress_prefixlength ${rule.suppressPrefixLength}`;
  return `${rule.priority}:\tfrom ${from}${to} lookup ${table}${suppress} proto ${rule.protocol}`;
}

export function formatNexthop(nh: KernelNexthop): string {
  if (nh.kind === "gateway") return `id ${nh.id} via ${nh.gateway} dev ${nh.dev} proto ${nh.protocol}`;
  if (nh.kind === "opaque") {
    // As ip prints them: a device-only nexthop by its device, the others by their type.
    const what = nh.type === "device" ? `dev ${nh.dev ?? "?"}` : nh.type;
    return `id ${nh.id} ${what} proto ${nh.protocol}`;
  }
  const group = nh.members.map((m) => (m.weight === 1 ? String(m.id) : `${m.id},${m.weight}`)).join("/");
  const type = nh.groupType === "resilient" ? " type resilient" : "";
  const buckets =
    nh.resilient === undefined ? "" : ` buckets ${nh.resilient.buckets} idle_timer ${nh.resilient.idleTimer}`;
  const fdb = nh.fdb === true ? " fdb" : "";
  return `id ${nh.id} group ${group}${type}${buckets} proto ${nh.protocol}${fdb}`;
}

function objectLine(op: Op, which: "from" | "to"): string {
  switch (op.object) {
    case "route": {
      const route = which === "to" && "to" in op ? op.to : "from" in op ? op.from : undefined;
      if (route === undefined) return "";
      // An op names the nexthop object by id only; its members are in the nexthop ops.
      if (route.target.kind === "nexthop-object")
        return `${routeDst(route.dst)} nhid ${route.target.id}${tail(route)}`;
      return formatRoute(route, new Map()).join(" ").replaceAll("\t", "");
    }
    case "nexthop": {
      const nh = which === "to" && "to" in op ? op.to : "from" in op ? op.from : undefined;
      return nh === undefined ? "" : formatNexthop(nh);
    }
    case "rule": {
      const rule = which === "to" && "to" in op ? op.to : "from" in op ? op.from : undefined;
      return rule === undefined ? "" : formatRule(rule).replace("\t", " ");
    }
    default: {
      const unreachable: never = op;
      return unreachable;
    }
  }
}

/** One op as an `ip` command line would say it. */
export function formatOp(op: Op): string {
  const verb = op.object === "route" ? "route" : op.object === "nexthop" ? "nexthop" : "rule";
  switch (op.action) {
    case "add":
      return `${verb} add ${objectLine(op, "to")}`;
    case "replace":
      return `${verb} replace ${objectLine(op, "to")}`;
    case "delete":
      return `${verb} del ${objectLine(op, "from")}`;
    default: {
      const unreachable: never = op;
      return unreachable;
    }
  }
}
