/**
 * Replay results as text (`ip route`-style tables per node) or as the one `--json`
 * document: `{"nodes":{"<node>":{"routes":[{"dst","table","gateways"}],"violations":[]}}}`,
 * nodes, routes and gateways sorted. A JSON `dst` is always a prefix with its length
 * (`10.1.2.3/32`), unlike the text, which prints a host route's bare address as ip does.
 */

import type { KernelSnapshot } from "@kroute/core";
import { counted } from "./counted.ts";
import {
  compareRoutes,
  formatNexthop,
  formatRoute,
  formatRule,
  indexNexthops,
  routeGateways,
} from "./format.ts";
import type { Violation } from "./node-sim.ts";

export interface NodeResult {
  readonly node: string;
  /** Owned objects of the node's kernel; absent when no host/observed ever came for it. */
  readonly snapshot: KernelSnapshot | undefined;
  readonly violations: readonly Violation[];
}

function byName(a: NodeResult, b: NodeResult): number {
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

export function violationText(v: Violation): string {
  return `seq ${v.seq}: ${v.message}`;
}

export function renderText(results: readonly NodeResult[]): string[] {
  const lines: string[] = [];
  for (const result of [...results].sort(byName)) {
    const snapshot = result.snapshot;
    if (snapshot === undefined) {
      lines.push(`== node ${result.node}: no host/observed event, no kernel simulated`);
    } else {
      const nexthops = indexNexthops(snapshot.nexthops);
      const routes = [...snapshot.routes].sort(compareRoutes);
      lines.push(`== node ${result.node}: ${counted(routes.length, "kroute route")}`);
      for (const route of routes) lines.push(...formatRoute(route, nexthops));
      if (snapshot.rules.length > 0) {
        lines.push("-- rules");
        for (const rule of [...snapshot.rules].sort((a, b) => a.priority - b.priority))
          lines.push(formatRule(rule));
      }
      if (snapshot.nexthops.length > 0) {
        lines.push("-- nexthops");
        for (const nh of [...snapshot.nexthops].sort((a, b) => a.id - b.id)) lines.push(formatNexthop(nh));
      }
    }
    if (result.violations.length === 0) lines.push("-- invariants: ok");
    else {
      lines.push(`-- invariants: ${result.violations.length} VIOLATED`);
      for (const v of result.violations) lines.push(`!! ${violationText(v)}`);
    }
    lines.push("");
  }
  return lines;
}

export interface JsonRoute {
  readonly dst: string;
  readonly table: number;
  readonly gateways: readonly string[];
}

export function renderJson(results: readonly NodeResult[]): string {
  const nodes: Record<string, { routes: JsonRoute[]; violations: string[] }> = {};
  for (const result of [...results].sort(byName)) {
    const snapshot = result.snapshot;
    const nexthops = indexNexthops(snapshot?.nexthops ?? []);
    const routes = [...(snapshot?.routes ?? [])]
      .sort(compareRoutes)
      .map((route) => ({ dst: route.dst, table: route.table, gateways: routeGateways(route, nexthops) }));
    nodes[result.node] = { routes, violations: result.violations.map(violationText) };
  }
  return JSON.stringify({ nodes });
}
