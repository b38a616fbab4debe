/**
 * Filtered dumps, as a netlink client gets them. Families filter routes, rules,
 * addresses and gateway nexthops (groups have no family and always come); tables
 * filter routes and rules; protocols filter routes, nexthops and rules (but for the
 * nexthops of the scope's id range and the routes through them, whoever holds them). Links
 * always come whole. The order is deterministic; readers must not rely on it.
 */
import {
  type DumpScope,
  type Family,
  inProtocols,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  nexthopInScope,
  routeOwnerInScope,
} from "@kroute/core";
import { allRoutes, type KernelState, observedRoute } from "./state.ts";

function inFamilies(scope: DumpScope, family: Family): boolean {
  return scope.families === undefined || scope.families.includes(family);
}

function inTables(scope: DumpScope, table: number): boolean {
  return scope.tables === undefined || scope.tables.includes(table);
}

/** As Linux lists a destination's routes (state.ts's kernelOrder); the sort keeps the order within a key. */
function byRouteKey(a: KernelRoute, b: KernelRoute): number {
  return (
    a.family - b.family ||
    a.table - b.table ||
    (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0) ||
    (b.tos ?? 0) - (a.tos ?? 0) ||
    a.metric - b.metric
  );
}

export function dump(state: KernelState, scope: DumpScope): KernelSnapshot {
  const routes: KernelRoute[] = [];
  for (const route of allRoutes(state)) {
    if (inFamilies(scope, route.family) && inTables(scope, route.table) && routeOwnerInScope(scope, route)) {
      routes.push(observedRoute(state, route));
    }
  }
  routes.sort(byRouteKey);
  const nexthops: KernelNexthop[] = [...state.nexthops.values()]
    .filter((nexthop) => nexthopInScope(scope, nexthop.id, nexthop.protocol))
    // Groups and opaque nexthops (a blackhole) carry no family kroute models: every dump has them.
    .filter((nexthop) => nexthop.kind !== "gateway" || inFamilies(scope, nexthop.family))
    .sort((a, b) => a.id - b.id);
  const rules: KernelRule[] = state.rules.filter(
    (rule) =>
      inFamilies(scope, rule.family) && inTables(scope, rule.table) && inProtocols(scope, rule.protocol),
  );
  return {
    routes,
    nexthops,
    rules,
    links: [...state.links.values()].sort((a, b) => a.index - b.index),
    addresses: state.addresses.filter((address) => inFamilies(scope, address.ip.includes(":") ? 6 : 4)),
    complete: true,
  };
}
