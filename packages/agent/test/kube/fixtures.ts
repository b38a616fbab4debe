/** Desired-table fragments for the status writer tests. */
import type { DesiredTable, DestinationOutcome, GatewayStatus, IpAddr, RouteOutcome } from "@kroute/core";

export function outcome(
  route: string,
  generation: number,
  accepted = true,
  extra: Partial<RouteOutcome> = {},
): RouteOutcome {
  return { route, generation, selected: true, accepted, destinations: [], ...extra };
}

export function destination(
  route: string,
  dst: string,
  state: DestinationOutcome["state"],
  reason?: string,
): DestinationOutcome {
  return { route, destination: dst, state, ...(reason === undefined ? {} : { reason }) };
}

export function gateway(
  ip: string,
  state: GatewayStatus["state"],
  extra: Partial<GatewayStatus> = {},
): GatewayStatus {
  return { gateway: ip as IpAddr, state, usedBy: [], ...extra };
}

export function table(
  outcomes: readonly RouteOutcome[],
  gateways: readonly GatewayStatus[] = [],
): DesiredTable {
  return { routes: [], nexthops: [], rules: [], outcomes, gateways };
}
