/**
 * Which gateways the node probes: every gateway of the desired table that at least
 * one selected Route probes. A gateway whose every user says `spec.probe: false` is
 * trusted (`unprobed`) and gets no prober; one shared by a probing and a trusting
 * Route is probed once, like any other.
 */
import { type DesiredTable, hmValues, type IpAddr, type NodeState } from "@kroute/core";
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

/**
 * The device each gateway's nexthops go out of, for its probes: a link-local gateway
 * (fe80::1) is a different router on every link, and only this device's is the one
 * the routes use. One device per gateway, as the core resolves it from the node's
 * networks for every Route alike.
 */
export function gatewayDevices(state: Pick<NodeState, "derived">): Map<IpAddr, string> {
  const devices = new Map<IpAddr, string>();
  for (const set of hmValues(state.derived.sets)) {
    for (const member of set.members) devices.set(member.gateway, member.dev);
  }
  return devices;
}
