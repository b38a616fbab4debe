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
}

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
};
