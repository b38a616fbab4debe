/**
 * Object keys and canonical forms of kernel objects. Two objects are equal exactly
 * when their canonical forms are: absent is never zero, order that the kernel does
 * not give meaning to is sorted away, and read-only kernel flags (linkdown) are ignored.
 */
import { compareAddresses } from "./ip.ts";
import {
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type Op,
  ruleKey,
  sharedRouteKey,
} from "./kernel.ts";

/** Keys naming one kernel object across state, failures and ops: "r|…" routes, "n|…" nexthops, "u|…" rules. */
export function routeObjectKey(route: KernelRoute): string {
  return `r|${sharedRouteKey(route)}`;
}

export function nexthopObjectKey(id: number): string {
  return `n|${id}`;
}

export function ruleObjectKey(rule: KernelRule): string {
  return `u|${ruleKey(rule)}`;
}

/** The object an op is about. */
export function opObjectKey(op: Op): string {
  switch (op.object) {
    case "route":
      return routeObjectKey(op.action === "delete" ? op.from : op.to);
    case "nexthop":
      return nexthopObjectKey(op.action === "delete" ? op.from.id : op.to.id);
    case "rule":
      return ruleObjectKey(op.action === "delete" ? op.from : op.to);
  }
}

export function canonicalRoute(route: KernelRoute): string {
  const target = route.target;
  let via: string;
  switch (target.kind) {
    case "gateways":
      via = `gw:${[...target.nexthops]
        .sort(
          (a, b) => compareAddresses(a.gateway, b.gateway) || (a.dev < b.dev ? -1 : a.dev > b.dev ? 1 : 0),
        )
        .map((n) => `${n.gateway}@${n.dev}*${n.weight}`)
        .join(",")}`;
      break;
    case "nexthop-object":
      via = `nh:${target.id}`;
      break;
    case "device":
      via = `dev:${target.dev}`;
      break;
    case "special":
      via = `special:${target.type}`;
      break;
  }
  return `${sharedRouteKey(route)}|p${route.protocol}|s${route.scope}|${via}|${route.prefsrc ?? ""}`;
}

export function canonicalNexthop(nexthop: KernelNexthop): string {
  switch (nexthop.kind) {
    case "gateway":
      return `gateway|${nexthop.id}|${nexthop.family}|p${nexthop.protocol}|${nexthop.gateway}|${nexthop.dev}`;
    case "group": {
      const members = [...nexthop.members]
        .sort((a, b) => a.id - b.id)
        .map((m) => `${m.id}*${m.weight}`)
        .join(",");
      const r = nexthop.resilient;
      const resilient = r === undefined ? "" : `${r.buckets}/${r.idleTimer}/${r.unbalancedTimer}`;
      const fdb = nexthop.fdb === true ? "|fdb" : "";
      return `group|${nexthop.id}|p${nexthop.protocol}|${nexthop.groupType}|${members}|${resilient}${fdb}`;
    }
    case "opaque":
      return `opaque|${nexthop.id}|p${nexthop.protocol}|${nexthop.type}|${nexthop.dev ?? ""}`;
  }
}

export function canonicalRule(rule: KernelRule): string {
  return ruleKey(rule);
}

export function sameRoute(a: KernelRoute | undefined, b: KernelRoute | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && canonicalRoute(a) === canonicalRoute(b));
}

export function sameNexthop(a: KernelNexthop | undefined, b: KernelNexthop | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && canonicalNexthop(a) === canonicalNexthop(b));
}

export function sameRule(a: KernelRule | undefined, b: KernelRule | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && canonicalRule(a) === canonicalRule(b));
}

/** Canonical form of a whole op, to recognise a retry of the very op that failed. */
export function canonicalOp(op: Op): string {
  switch (op.object) {
    case "route":
      return `route|${op.action}|${op.action === "delete" ? canonicalRoute(op.from) : canonicalRoute(op.to)}`;
    case "nexthop":
      return `nexthop|${op.action}|${op.action === "delete" ? canonicalNexthop(op.from) : canonicalNexthop(op.to)}`;
    case "rule":
      return `rule|${op.action}|${op.action === "delete" ? canonicalRule(op.from) : canonicalRule(op.to)}`;
  }
}
