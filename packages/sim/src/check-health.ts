/**
 * The health invariant: a route must not go via a gateway known down while another
 * of its gateways (or its Route's) is up.
 */
import { hmGet, type IpAddr, type NodeState, sharedRouteKey } from "@kroute/core";
import { routeHops } from "./format.ts";
import type { OwnedMirror } from "./mirror.ts";

/**
 * The problems of the routes through `gateways` (those a step wrote or probed), so a
 * step does not walk every route; `down` is the gateways whose last probe said down.
 */
export function healthProblems(
  gateways: Iterable<IpAddr>,
  down: ReadonlySet<string>,
  owned: OwnedMirror,
  derived: NodeState["derived"],
): string[] {
  const problems: string[] = [];
  if (down.size === 0) return problems;
  const seen = new Set<string>();
  for (const gateway of gateways) {
    for (const { route, count } of owned.routesVia(gateway)) {
      // The mirror holds the core's shared route objects, whose keys are built once.
      const key = sharedRouteKey(route);
      if (seen.has(key)) continue;
      seen.add(key);
      const via = routeHops(route, owned.nexthops).map((h) => h.gateway);
      const dead = via.filter((g) => down.has(g));
      if (dead.length === 0) continue;
      const configured = configuredGateways(key, derived);
      if (configured === undefined) continue;
      const others = count > 1 ? ` (and ${count - 1} more routes through the same nexthop)` : "";
      const alive = via.filter((g) => !down.has(g));
      const upElsewhere = configured.filter((g) => !down.has(g));
      if (alive.length > 0) {
        problems.push(
          `${route.dst} table ${route.table}${others} goes via ${dead.join(", ")} (down) while ${alive.join(", ")} is up`,
        );
      } else if (upElsewhere.length > 0) {
        problems.push(
          `${route.dst} table ${route.table}${others} goes only via down ${dead.join(", ")} while ${upElsewhere.join(", ")} is up`,
        );
      }
    }
  }
  return problems;
}

/**
 * The gateways the winning Route configured for a kernel route (before health), or
 * undefined when the core trusts them unprobed (`probe: false`) or did not ask for the
 * route: read from the core's incrementally kept claims, a lookup, not a table walk.
 */
function configuredGateways(key: string, derived: NodeState["derived"]): IpAddr[] | undefined {
  const { contenders, sets } = derived;
  const set = hmGet(contenders, key)?.[0]?.set;
  const gatewaySet = set === undefined ? undefined : hmGet(sets, set);
  if (gatewaySet === undefined || !gatewaySet.probe) return undefined;
  return gatewaySet.members.map((m) => m.gateway);
}
