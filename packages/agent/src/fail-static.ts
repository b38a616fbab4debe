/**
 * Fail-static (SPEC §3.3): when every gateway of a route is down, the route keeps all
 * of them, and this is reported. The core marks such destinations (`failStatic`); this
 * module groups them per Route for the NodeRouteTable, Events, metrics and logs, and
 * logs a Route's entering and leaving fail-static (transitions only).
 */
import type { DesiredTable, DestinationOutcome } from "@kroute/core";
import type { Logger } from "./log.ts";
import type { StatusSink } from "./runtime/status.ts";

/** The fail-static destinations of one Route on this node. */
export interface FailStaticRoute {
  readonly route: string;
  /** As written in the spec, in the Route's order. */
  readonly destinations: readonly string[];
  /** The down gateways those destinations keep, sorted, without duplicates. */
  readonly gateways: readonly string[];
}

/** True when a destination is kept on all its gateways because every one of them is down. */
export function isFailStatic(d: DestinationOutcome): boolean {
  return d.failStatic === true;
}

/** Why a destination is fail-static, naming its (down) gateways. */
export function failStaticReason(d: DestinationOutcome): string {
  const gateways = [...(d.gateways ?? [])].sort();
  return `every gateway is down (${gateways.join(", ")}); the route keeps all of them (fail-static)`;
}

/** The selected Routes with at least one fail-static destination, by Route name. */
export function failStaticRoutes(table: DesiredTable): Map<string, FailStaticRoute> {
  const routes = new Map<string, FailStaticRoute>();
  for (const outcome of table.outcomes) {
    if (!outcome.selected) continue;
    const destinations: string[] = [];
    const gateways = new Set<string>();
    for (const d of outcome.destinations) {
      if (!isFailStatic(d)) continue;
      destinations.push(d.destination);
      for (const g of d.gateways ?? []) gateways.add(g);
    }
    if (destinations.length > 0) {
      routes.set(outcome.route, { route: outcome.route, destinations, gateways: [...gateways].sort() });
    }
  }
  return routes;
}

/**
 * A StatusSink that logs, per Route, a warning when its destinations on this node go
 * fail-static and an info line when none is any more. Nothing is logged per report.
 */
export function failStaticLog(log: Logger): StatusSink {
  let reported = new Map<string, FailStaticRoute>();
  return {
    update(table) {
      const now = failStaticRoutes(table);
      for (const [route, r] of now) {
        if (reported.has(route)) continue;
        log.warn(
          { route, destinations: r.destinations, gateways: r.gateways },
          "Route %s: every gateway is down; keeping all of them (fail-static)",
          route,
        );
      }
      const present = new Set(table.outcomes.filter((o) => o.selected).map((o) => o.route));
      for (const route of reported.keys()) {
        if (now.has(route) || !present.has(route)) continue;
        log.info({ route }, "Route %s: no destination is fail-static any more", route);
      }
      reported = now;
    },
  };
}
