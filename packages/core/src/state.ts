/**
 * The state of one node's engine: a plain serialisable record with one slice per
 * input source, plus `derived`, the desired table maintained incrementally by the
 * reducer (so that one event costs in proportion to what it touches).
 */
import type { DefaultGateway, HostAddress } from "./events.ts";
import { emptyHashMap, type HashMap } from "./hashmap.ts";
import type { Family, IpAddr, Prefix } from "./ip.ts";
import type { KernelAddress, KernelLink, KernelNexthop, KernelRoute, KernelRule } from "./kernel.ts";
import type { SharersByKey } from "./key-sharers.ts";
import { emptyNexthopUsers, type NexthopUsers } from "./nexthop-users.ts";
import type { RouteValidation } from "./route.ts";
import type { SeniorityOrder } from "./seniority-order.ts";
import type { EngineSettings } from "./settings.ts";

export interface RoutesSlice {
  /** True once a full snapshot (`route/resynced`) has arrived: only then may anything be pruned. */
  readonly synced: boolean;
  /** Every Route by name, valid or not. */
  readonly byName: HashMap<RouteValidation>;
}

export interface NodeSlice {
  readonly observed: boolean;
  readonly labels: Readonly<Record<string, string>>;
}

export interface HostFacts {
  readonly defaultGateways: readonly DefaultGateway[];
  readonly addresses: readonly HostAddress[];
  readonly dns: readonly IpAddr[];
  readonly apiServers: readonly IpAddr[];
  readonly protect: readonly Prefix[];
}

export interface HostSlice {
  readonly observed: boolean;
  readonly facts?: HostFacts;
}

export interface ProbeState {
  readonly up: boolean;
  readonly rttMs?: number;
  /** ISO time of the last up/down change. */
  readonly since: string;
}

/** What the kernel holds of kroute's own objects (its protocol, its nexthop id range). */
export interface OwnedKernelState {
  /** By routeKey(). */
  readonly routes: HashMap<KernelRoute>;
  /** By String(id). */
  readonly nexthops: HashMap<KernelNexthop>;
  /** By ruleKey(). */
  readonly rules: HashMap<KernelRule>;
  readonly links: readonly KernelLink[];
  readonly addresses: readonly KernelAddress[];
  /**
   * Ids of kroute's range held by another protocol's nexthop, String(id) → that protocol:
   * not kroute's objects, but ids it cannot use.
   */
  readonly othersIds: HashMap<number>;
  /** Those nexthops themselves, String(id) → nexthop: the link that takes them (others-nexthops.ts). */
  readonly othersNexthops: HashMap<KernelNexthop>;
  /**
   * Others' routes at the keys of kroute's routes, before and after kroute's: whether
   * another program's replace there took kroute's route or theirs (key-sharers.ts).
   */
  readonly sharers: SharersByKey;
  /**
   * Others' routes through ids of kroute's range: the nexthops of kroute's they use are
   * kept though no Route wants them (nexthop-users.ts).
   */
  readonly nexthopUsers: NexthopUsers;
  /** False until a complete dump, and again after a notification overflow (a resync is due). */
  readonly complete: boolean;
  readonly observed: boolean;
}

/** The last kernel refusal of one op, and when it may be tried again. */
export interface OpFailure {
  readonly errno: number;
  readonly code: string;
  readonly message: string;
  readonly attempts: number;
  /** When it last failed (the `at` of the dataplane/applied event). */
  readonly at: string;
  /** Earliest time of the next attempt. */
  readonly retryAt: string;
  /** True until a retry timer at or after retryAt has fired. */
  readonly gated: boolean;
  /** Canonical form of the refused op: a different op on the same object is not held back. */
  readonly op: string;
}

/** One Route's claim on one kernel route key; the lowest rank wins the key. */
export interface Claim {
  readonly owner: string;
  /**
   * "0|name" for protected/reply routes of an override (and the protected routes of a
   * destination holding protected addresses, see pins, and the reply routes of a Route's
   * own half of the address space, see replies), "1|creation time|name" for
   * destinations (see ageKey), "2|creation time|name" for the halves of a split override
   * (override.ts): below every destination, so a Route's own /1 keeps its key, as it
   * keeps its traffic beside an unsplit default route.
   */
  readonly rank: string;
  /** routeKey() of the route claimed. */
  readonly key: string;
  readonly family: Family;
  readonly table: number;
  readonly dst: Prefix;
  /** Key of the gateway set the route goes through. */
  readonly set: string;
  /**
   * For a Route's destination narrower than a default route: the protected addresses
   * inside it that its host routes keep on the original gateway (contribution.ts). The
   * route waits for them as an override does for its protection (override-stages.ts).
   */
  readonly pins?: readonly Prefix[];
  /**
   * For a Route's own half of the address space (0.0.0.0/1, 128.0.0.0/1, ::/1, 8000::/1):
   * it takes the node's replies as an override would, so it waits for the reply
   * protection of its half as an override does for its own (override-stages.ts).
   */
  readonly replies?: true;
}

/** A destination as concluded from its Route and the node's context, before conflicts and health. */
export interface DestinationPlan {
  /** As written in the spec. */
  readonly destination: string;
  readonly prefix?: Prefix;
  readonly table?: number;
  /** routeKey() of its claims, when it has them: one, or two for an override split in halves. */
  readonly keys?: readonly string[];
  /** Set key of its gateways, when routable. */
  readonly set?: string;
  readonly invalid?: string;
  readonly pending?: string;
  /** Not routed on this node, by design (the node is one of its gateways), and why. */
  readonly skipped?: string;
  /** Gateways of the Route that this destination goes without (not on-link), for status. */
  readonly leftOut?: string;
  /** Why an override is programmed as the halves of the address space (see override.ts), for status. */
  readonly split?: string;
}

/** What one Route contributes on this node (independent of gateway health and of other Routes). */
export interface Contribution {
  readonly name: string;
  readonly generation: number;
  readonly selected: boolean;
  readonly accepted: boolean;
  readonly message?: string;
  readonly destinations: readonly DestinationPlan[];
  readonly claims: readonly Claim[];
  readonly rules: readonly KernelRule[];
  readonly probe: boolean;
  readonly gateways: readonly IpAddr[];
  /**
   * Where the Route stands when --max-destinations leaves no room for every destination:
   * older Routes first (creation time, then name; see ageKey), as conflicts are settled.
   */
  readonly seniority: string;
  /**
   * One entry per destination that claims a route here, in the spec's order: how many of
   * `claims` and `rules` there are up to and including its own. A destination's claims
   * and rules are made while it is read, so the first n such destinations hold exactly
   * the first `routableEnds[n - 1]` claims and rules (derive.ts admits those).
   */
  readonly routableEnds: readonly RoutableEnd[];
}

export interface RoutableEnd {
  readonly claims: number;
  readonly rules: number;
}

export interface SetMember {
  readonly gateway: IpAddr;
  readonly dev: string;
}

/** A distinct configured gateway set in use (one shared nexthop group when it has ≥ 2 members). */
export interface GatewaySet {
  readonly key: string;
  readonly family: Family;
  readonly probe: boolean;
  /** Sorted by address. */
  readonly members: readonly SetMember[];
  /** Route keys whose desired route goes through this set. */
  readonly users: HashMap<true>;
}

export interface NexthopIds {
  /** Object identity key → id. */
  readonly byKey: HashMap<number>;
  /** String(id) → object identity key. */
  readonly byId: HashMap<string>;
  /** String(id) → protocol of another's nexthop at that id of the range: never given to a key. */
  readonly others: HashMap<number>;
}

export interface DerivedState {
  /** Route name → contribution, for the Routes selected on this node only (the others contribute nothing). */
  readonly contributions: HashMap<Contribution>;
  /** Route key → claims sorted by rank; the first wins. */
  readonly contenders: HashMap<readonly Claim[]>;
  /** Route key → desired route. */
  readonly routes: HashMap<KernelRoute>;
  /** Route key → key of the gateway set its desired route goes through. */
  readonly using: HashMap<string>;
  /** Set key → set, for sets with at least one user. */
  readonly sets: HashMap<GatewaySet>;
  /** Gateway address → number of selected Routes naming it (on-link or not). */
  readonly gatewayUse: HashMap<number>;
  /** Gateway address → keys of live sets that contain it. */
  readonly gatewaySets: HashMap<HashMap<true>>;
  /** Gateway object key ("gw|family|ip|dev") → number of live sets containing it. */
  readonly gatewayRefs: HashMap<number>;
  readonly ids: NexthopIds;
  /** Object keys that need an id but found the owned range full; they get one as soon as one frees up. */
  readonly starved: HashMap<true>;
  /** Object key → id where its desired nexthop currently sits. */
  readonly placed: HashMap<number>;
  /** String(id) → desired nexthop object. */
  readonly nexthops: HashMap<KernelNexthop>;
  /** Rule key → rule and the Routes asking for it. */
  readonly rules: HashMap<{ readonly rule: KernelRule; readonly owners: readonly string[] }>;
  /** Object keys ("r|…", "n|…", "u|…") where desired and observed differ: what plan() looks at. */
  readonly mismatch: HashMap<true>;
  /** Destinations of the selected Routes that claim a route here (routableEnds), admitted or not. */
  readonly destinationsWanted: number;
  /**
   * Route name → how many of its destinations are admitted, for the Routes that
   * --max-destinations admits less than whole (admission.ts); empty while every one fits.
   */
  readonly capped: HashMap<number>;
  /**
   * The selected Routes that want destinations, in seniority order (seniority-order.ts),
   * kept while the node is over the cap (while `capped` is not empty); null otherwise,
   * so a node within its cap keeps no second index of its Routes.
   */
  readonly seniorityOrder: SeniorityOrder;
}

export interface NodeState {
  /** The node this engine runs for; node-scoped events for other nodes are ignored. */
  readonly nodeName: string;
  readonly settings: EngineSettings;
  readonly routes: RoutesSlice;
  readonly node: NodeSlice;
  readonly host: HostSlice;
  /** Gateway address → last probe verdict. */
  readonly probes: Readonly<Record<string, ProbeState>>;
  /**
   * Gateways with no probe verdict yet that the kernel found at start showed left out
   * of their set: down until their first verdict (start-health.ts).
   */
  readonly presumedDown: Readonly<Record<string, true>>;
  readonly kernel: OwnedKernelState;
  /** Op key ("r|…", "n|…", "u|…") → last refusal. */
  readonly failures: Readonly<Record<string, OpFailure>>;
  /** `at` of the last event reduced: the only clock the core has. */
  readonly now?: string;
  readonly derived: DerivedState;
}

export function emptyKernelState(): OwnedKernelState {
  return {
    routes: emptyHashMap(),
    nexthops: emptyHashMap(),
    rules: emptyHashMap(),
    othersIds: emptyHashMap(),
    othersNexthops: emptyHashMap(),
    sharers: emptyHashMap(),
    nexthopUsers: emptyNexthopUsers(),
    links: [],
    addresses: [],
    complete: false,
    observed: false,
  };
}

export function emptyNexthopIds(): NexthopIds {
  return { byKey: emptyHashMap(), byId: emptyHashMap(), others: emptyHashMap() };
}

export function emptyDerivedState(): DerivedState {
  return {
    contributions: emptyHashMap(),
    contenders: emptyHashMap(),
    routes: emptyHashMap(),
    using: emptyHashMap(),
    sets: emptyHashMap(),
    gatewayUse: emptyHashMap(),
    gatewaySets: emptyHashMap(),
    gatewayRefs: emptyHashMap(),
    ids: emptyNexthopIds(),
    starved: emptyHashMap(),
    placed: emptyHashMap(),
    nexthops: emptyHashMap(),
    rules: emptyHashMap(),
    mismatch: emptyHashMap(),
    destinationsWanted: 0,
    capped: emptyHashMap(),
    seniorityOrder: null,
  };
}

export function initialNodeState(node: string, settings: EngineSettings): NodeState {
  return {
    nodeName: node,
    settings,
    routes: { synced: false, byName: emptyHashMap() },
    node: { observed: false, labels: {} },
    host: { observed: false },
    probes: {},
    presumedDown: {},
    kernel: emptyKernelState(),
    failures: {},
    derived: emptyDerivedState(),
  };
}
