/**
 * What the core concluded for each Route destination and each gateway on one node:
 * the material for Route status, the NodeRouteTable, Events and metrics.
 */
import type { IpAddr, Prefix } from "./ip.ts";
import type { KernelNexthop, KernelRoute, KernelRule } from "./kernel.ts";

export type DestinationState =
  /** In the kernel as desired. */
  | "programmed"
  /** Desired, not yet confirmed by an apply. */
  | "pending"
  /** The kernel refused it; retried with backoff. */
  | "failed"
  /** Another Route won this (table, destination). */
  | "conflicted"
  /** Bad input, or a protected prefix, or no gateway of its family. */
  | "invalid"
  /** Not routed on this node by design: the node is one of its gateways. */
  | "skipped";

export interface DestinationOutcome {
  readonly route: string;
  /** As written in the spec (before normalisation), for messages. */
  readonly destination: string;
  readonly prefix?: Prefix;
  readonly table?: number;
  readonly state: DestinationState;
  readonly reason?: string;
  /** Gateways in use for this destination (the healthy ones, or all when fail-static). */
  readonly gateways?: readonly IpAddr[];
  /** True when every gateway is down and the route keeps them all. */
  readonly failStatic?: boolean;
  /** Gateways of the Route this destination goes without on this node (not on-link here), and why. */
  readonly leftOut?: string;
}

export interface RouteOutcome {
  readonly route: string;
  readonly generation: number;
  /** Whether the Route applies to this node at all. */
  readonly selected: boolean;
  /**
   * The Route's own verdict (route-verdict.ts), the same on every node: false when it is
   * invalid or none of its destinations can be routed anywhere. What depends on the node
   * is in `destinations` only.
   */
  readonly accepted: boolean;
  readonly reason?: string;
  /** The destinations refused on every node, and why. */
  readonly message?: string;
  /** Each destination as it stands on this node; empty when the Route does not select it. */
  readonly destinations: readonly DestinationOutcome[];
}

export interface GatewayStatus {
  readonly gateway: IpAddr;
  /**
   * `unknown` until the first probe result; counted as up, or as down when the kernel found
   * at start showed it taken out of its set (start-health.ts). `unprobed` when every user has probe: false.
   */
  readonly state: "up" | "down" | "unknown" | "unprobed";
  readonly rttMs?: number;
  /** ISO time of the last state change. */
  readonly since?: string;
  readonly usedBy: readonly string[];
}

/** The desired kroute-owned kernel state of one node, plus what it means for status. */
export interface DesiredTable {
  readonly routes: readonly KernelRoute[];
  readonly nexthops: readonly KernelNexthop[];
  readonly rules: readonly KernelRule[];
  readonly outcomes: readonly RouteOutcome[];
  readonly gateways: readonly GatewayStatus[];
}
