/**
 * The cluster's egress view, judged: which source addresses the echo server may report
 * for a node's flows, from the table the simulator predicts for that phase. Without it
 * the run printed what the destination saw and said every check held whatever that was
 * (a node's own address where an override sends everything through the gateways, say).
 */
import { type IpAddr, type Prefix, prefixContains, prefixLength } from "@kroute/core";
import type { JsonRoute } from "../render.ts";
import { ROUTER, type Scenario, type ScenarioNode } from "./scenario.ts";

/**
 * The sources the destination may see. A flow's socket is unbound, so its route is
 * chosen before its source (no reply rule applies): the longest of kroute's main-table
 * routes covering the destination takes it to its gateways, each seen as its static
 * egress IP, or the router (a protected address) and so the node's own address; where
 * none covers it, the node's original default route does the same. A dead gateway drops
 * its share, so it adds no address, and one outside the box has no known address.
 */
export function expectedSources(
  s: Scenario,
  node: ScenarioNode,
  routes: readonly JsonRoute[],
  destination: string,
  dead: ReadonlySet<string>,
): ReadonlySet<string> {
  let best: JsonRoute | undefined;
  for (const route of routes) {
    const dst = route.dst as Prefix;
    if (route.table !== 254 || !prefixContains(dst, destination as IpAddr)) continue;
    if (best === undefined || prefixLength(dst) > prefixLength(best.dst as Prefix)) best = route;
  }
  const sources = new Set<string>();
  for (const gateway of best?.gateways ?? [ROUTER]) {
    if (dead.has(gateway)) continue;
    const index = s.gateways.indexOf(gateway);
    if (index >= 0) sources.add(`198.18.${index + 1}.1`);
    else if (gateway === ROUTER) sources.add(node.address);
  }
  return sources;
}

/**
 * What is wrong with what the destination saw, if anything: an address the table does
 * not allow, or no answer at all where a live path exists. Some flows lost is not judged:
 * UDP may lose one, and the addresses that did answer already tell the way.
 */
export function egressProblem(
  expected: ReadonlySet<string>,
  via: Readonly<Record<string, number>>,
): string | undefined {
  const allowed = expected.size === 0 ? "no answer" : [...expected].sort().join(", ");
  const unexpected = Object.keys(via).filter((address) => !expected.has(address));
  if (unexpected.length > 0)
    return `saw ${unexpected.sort().join(", ")}, where the predicted table allows ${allowed}`;
  if (Object.keys(via).length === 0 && expected.size > 0)
    return `no answer, where the predicted table allows ${allowed}`;
  return undefined;
}
