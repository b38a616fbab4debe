/**
 * What both runs of the cluster in a box print: a header, phase titles, and the egress
 * view (which source address the destination saw, and so which way the flows left).
 */

import { counted } from "../counted.ts";
import type { Scenario } from "./scenario.ts";
import { ECHO, POOLS } from "./topology.ts";

export type Print = (line: string) => void;

export const EGRESS_FLOWS = 8;
export const DESTINATIONS = [ECHO.basic, ECHO.single, ECHO.internet] as const;

export function header(s: Scenario, mode: string, print: Print): void {
  print(
    `== cluster in a box (${mode}): ${counted(s.nodes.length, "node")}, ${counted(s.gateways.length, "gateway")}, ${counted(s.routes.length, "Route")}`,
  );
  for (const node of s.nodes) print(`   ${node.name} ${node.address} pool ${node.pool}`);
  for (const [i, g] of s.gateways.entries()) print(`   gw-${i + 1} ${g} (masquerades as 198.18.${i + 1}.1)`);
  print(`   router 10.114.0.1: the nodes' original default gateway (no NAT); pools: ${POOLS.join(", ")}`);
  for (const route of s.routes) {
    const spec = route.spec as { destinations?: unknown; gateways?: unknown; nodeSelector?: unknown };
    const where =
      spec.nodeSelector === undefined ? "every node" : `selector ${JSON.stringify(spec.nodeSelector)}`;
    print(
      `   Route ${route.metadata.name}: ${JSON.stringify(spec.destinations)} via ${JSON.stringify(spec.gateways)}, ${where}`,
    );
  }
  print("");
}

/** Names what a source address seen by the destination means. */
export function sourceMeaning(s: Scenario, seen: string): string {
  const gateway = /^198\.18\.(\d+)\.1$/.exec(seen);
  if (gateway !== null) return `gw-${gateway[1]}'s static egress IP`;
  const node = s.nodes.find((n) => n.address === seen);
  if (node !== undefined) return `${node.name}'s own address (left through the router)`;
  return "unknown";
}

export function egressLine(
  s: Scenario,
  node: string,
  destination: string,
  via: Readonly<Record<string, number>>,
  sent: number,
): string {
  const answered = Object.values(via).reduce((a, b) => a + b, 0);
  const seen = Object.entries(via)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([address, count]) => `${address} ×${count} (${sourceMeaning(s, address)})`)
    .join(", ");
  const lost = answered < sent ? `; ${sent - answered} of ${sent} unanswered` : "";
  return `${node} → ${destination}: ${seen === "" ? "no answer" : seen}${lost}`;
}
