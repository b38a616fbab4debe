/**
 * Which gateways the node probes: every gateway of the desired table that at least
 * one selected Route probes. A gateway whose every user says `spec.probe: false` is
 * trusted (`unprobed`) and gets no prober; one shared by a probing and a trusting
 * Route is probed once, like any other.
 */
import type { DesiredTable, IpAddr } from "@kroute/core";
import { distinctUntilChanged, map, type Observable } from "rxjs";

export function gatewaysToProbe(table: Pick<DesiredTable, "gateways">): IpAddr[] {
  return table.gateways.filter((g) => g.state !== "unprobed").map((g) => g.gateway);
}

/** The probed gateway list of each desired table, emitted only when it changes. */
export function probedGateways(
  tables$: Observable<Pick<DesiredTable, "gateways">>,
): Observable<readonly IpAddr[]> {
  return tables$.pipe(
    map(gatewaysToProbe),
    distinctUntilChanged((a, b) => a.length === b.length && a.every((g, i) => g === b[i])),
  );
}
