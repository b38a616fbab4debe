/**
 * Settings the engine needs from the agent. They are data, recorded in the event log
 * (`agent/configured`), so a replay computes with exactly what the agent used.
 */
import type { Prefix } from "./ip.ts";
import type { ResilientParams } from "./kernel.ts";

export interface EngineSettings {
  /** rtm_protocol tag of every route, rule and nexthop kroute owns. */
  readonly protocol: number;
  /**
   * The protocol kroute tagged its objects with before `protocol` changed: they are its own
   * to hand over. Each is rewritten under `protocol` (a route in place, a rule or nexthop
   * made anew beside it) or pruned as a stale object of its own would be. Absent: none.
   */
  readonly adoptProtocol?: number;
  /** Metric of kroute's routes, the default-route override included. */
  readonly metric: number;
  /** Nexthop ids kroute owns: [nexthopIdBase, nexthopIdBase + nexthopIdCount). */
  readonly nexthopIdBase: number;
  readonly nexthopIdCount: number;
  /**
   * `groups`: nexthop objects, one shared group per distinct configured gateway set.
   * `multipath`: plain RTA_MULTIPATH routes (kernels without nexthop objects).
   */
  readonly nexthopMode: "groups" | "multipath";
  /** Resilient group parameters; absent = hash-threshold groups. */
  readonly resilient?: ResilientParams;
  /** Table holding the original default route for replies (the source policy rule's table). */
  readonly replyTable: number;
  readonly replyRulePriority: number;
  /** Prefixes no Route may target (cluster pod and service CIDRs, say), beyond the built-in ones. */
  readonly protectedPrefixes: readonly Prefix[];
  /**
   * The tables Routes may write, as inclusive ranges; absent = any table but the kernel's
   * local and default ones and the reply table. Other programs route through tables of
   * their own (a VPN's, a CNI's), which a Route author could otherwise fill.
   */
  readonly routeTables?: readonly TableRange[];
  /**
   * The most destinations one node programs (--max-destinations); past it, older Routes'
   * destinations first (admission.ts), the rest refused naming the setting. Absent: no
   * cap (an event log recorded before the setting existed).
   */
  readonly maxDestinations?: number;
}

/** Table ids first..last, inclusive. */
export interface TableRange {
  readonly first: number;
  readonly last: number;
}

/** "254,100-199", as --route-tables takes it. */
export function formatTableRanges(ranges: readonly TableRange[]): string {
  return ranges.map((r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`)).join(",");
}

/**
 * --max-destinations by default: twice the table the agent's memory is measured with
 * (10,000 destinations, deploy/helm/kroute/values.yaml), far past what Routes written
 * by hand come to, and well inside the chart's memory limit (deploy/README.md, Security).
 */
export const DEFAULT_MAX_DESTINATIONS = 20_000;

export const DEFAULT_SETTINGS: EngineSettings = {
  protocol: 201,
  metric: 50,
  nexthopIdBase: 0x6b000000,
  nexthopIdCount: 0x01000000,
  nexthopMode: "groups",
  resilient: { buckets: 128, idleTimer: 120, unbalancedTimer: 0 },
  replyTable: 135,
  replyRulePriority: 1350,
  protectedPrefixes: [],
  maxDestinations: DEFAULT_MAX_DESTINATIONS,
};
