/**
 * The kernel's routing objects as kroute sees them, and the Dataplane contract that
 * both drivers (the in-memory fake and rtnetlink) implement.
 *
 * These are plain serialisable records: they appear in events, in the event log and
 * in diffs. Every field is explicit; an absent optional field means "absent", never
 * "zero", so two objects are equal exactly when their canonical JSON is equal.
 */
import type { Observable } from "rxjs";
import type { Family, IpAddr, Prefix } from "./ip.ts";

/** One gateway of a route written inline (RTA_GATEWAY, or one rtnexthop of RTA_MULTIPATH). */
export interface InlineNexthop {
  readonly gateway: IpAddr;
  readonly dev: string;
  /** 1..256, as `ip route ... weight N`. */
  readonly weight: number;
  /** The kernel marks nexthops whose link has no carrier (RTNH_F_LINKDOWN); read-only, never written. */
  readonly linkdown?: true;
}

/** Where a route sends its traffic. */
export type RouteTarget =
  /** One gateway (a plain route) or several (a legacy multipath route). */
  | { readonly kind: "gateways"; readonly nexthops: readonly InlineNexthop[] }
  /** A nexthop object or group (RTA_NH_ID). */
  | { readonly kind: "nexthop-object"; readonly id: number }
  /** Directly connected through a device (no gateway); foreign routes mostly. */
  | { readonly kind: "device"; readonly dev: string }
  /** blackhole, unreachable, prohibit, local, broadcast...: not used by kroute, kept for foreign routes. */
  | { readonly kind: "special"; readonly type: string };

export interface KernelRoute {
  readonly family: Family;
  readonly table: number;
  readonly dst: Prefix;
  /** RTA_PRIORITY; Linux keys routes by (table, dst, tos, priority). */
  readonly metric: number;
  /**
   * rtm_tos, IPv4 only (IPv6 refuses it): the route serves only flows of this DSCP,
   * and a route with it stands beside one without at the same metric. kroute writes
   * none; another program's are kept apart from kroute's by it. Absent: 0.
   */
  readonly tos?: number;
  /** rtm_protocol: the owner tag. */
  readonly protocol: number;
  /** rtm_scope as a number (0 universe, 253 link, 254 host). */
  readonly scope: number;
  readonly target: RouteTarget;
  /** RTA_PREFSRC, when set. */
  readonly prefsrc?: IpAddr;
  /**
   * The time left, in ms when the route was read, before the kernel stops using it: an
   * IPv6 route learned from a router advertisement lives as long as the router keeps
   * advertising it. Negative once expired: Linux keeps an expired route listed, unused,
   * and tells nothing until its garbage collector deletes it (about 30 s later).
   * Absent: the route does not expire. kroute's own routes never do.
   */
  readonly expiresInMs?: number;
}

/** Identity of a route in the kernel, as Linux keys it: (table, dst, tos, priority). */
export interface RouteKey {
  readonly family: Family;
  readonly table: number;
  readonly dst: Prefix;
  readonly metric: number;
  /** Absent: 0, which every route kroute writes has. */
  readonly tos?: number;
}

export interface NexthopGroupMember {
  readonly id: number;
  readonly weight: number;
}

export interface ResilientParams {
  readonly buckets: number;
  /** Seconds a bucket must be idle before it may migrate to another nexthop. */
  readonly idleTimer: number;
  /** Seconds the group may stay unbalanced before buckets are forced to migrate. */
  readonly unbalancedTimer: number;
}

export type KernelNexthop =
  | {
      readonly kind: "gateway";
      readonly id: number;
      readonly family: Family;
      readonly protocol: number;
      readonly gateway: IpAddr;
      readonly dev: string;
    }
  | {
      readonly kind: "group";
      readonly id: number;
      readonly protocol: number;
      /** Sorted by id. */
      readonly members: readonly NexthopGroupMember[];
      /** `mpath` is hash-threshold; `resilient` keeps flows on surviving members. */
      readonly groupType: "mpath" | "resilient";
      readonly resilient?: ResilientParams;
      /**
       * Another program's group of fdb nexthops (NHA_FDB, for VXLAN): Linux keeps fdb and
       * routing nexthops apart, so kroute's groups never hold one. kroute writes none.
       */
      readonly fdb?: true;
    }
  | {
      /**
       * A nexthop kroute never writes (blackhole, device-only, fdb), seen for its id and
       * owner alone: another's blackhole at an id of kroute's range holds that id as
       * surely as a gateway does, and kroute must not route through it.
       */
      readonly kind: "opaque";
      readonly id: number;
      readonly protocol: number;
      readonly type: OpaqueNexthopType;
      /**
       * The device of a device-only nexthop: Linux deletes it, unannounced, when the
       * device loses carrier, goes down or goes away. Absent for the other types, and in
       * logs recorded before agents read it.
       */
      readonly dev?: string;
    };

export type OpaqueNexthopType = "blackhole" | "device" | "fdb";

/** A policy routing rule: `from src lookup table priority N proto P`. */
export interface KernelRule {
  readonly family: Family;
  readonly priority: number;
  readonly src?: Prefix;
  readonly dst?: Prefix;
  readonly table: number;
  readonly protocol: number;
  /**
   * `suppress_prefixlength N`: a route the table gives with a prefix this long or
   * shorter is passed over, and the lookup goes on to the next rule.
   */
  readonly suppressPrefixLength?: number;
}

export interface KernelLink {
  readonly index: number;
  readonly name: string;
  /** Administratively up (IFF_UP). */
  readonly up: boolean;
  /** Carrier present (IFF_LOWER_UP). */
  readonly carrier: boolean;
}

export interface KernelAddress {
  readonly ip: IpAddr;
  readonly prefixLength: number;
  readonly dev: string;
}

/** What a dump covers. Absent fields mean "all". */
export interface DumpScope {
  readonly families?: readonly Family[];
  readonly tables?: readonly number[];
  /** Routes, rules and nexthops of these protocols only (kroute's own, see owned.ts); absent: all. */
  readonly protocols?: readonly number[];
  /**
   * Nexthops at ids from `base` (`count` of them) come whatever their protocol: another's
   * nexthop in kroute's id range holds an id kroute cannot use, so it must be seen. So do
   * routes through them: another program's route through kroute's nexthop keeps it
   * (nexthop-users.ts). Linux filters no route dump by nexthop id, so a driver dumps
   * every protocol's routes and keeps these.
   */
  readonly nexthopIds?: { readonly base: number; readonly count: number };
}

/** Whether `scope` takes objects of `protocol`. */
export function inProtocols(scope: DumpScope, protocol: number): boolean {
  return scope.protocols === undefined || scope.protocols.includes(protocol);
}

/** Whether `scope` takes `route` by its owner: its protocol, or the nexthop id it goes through. */
export function routeOwnerInScope(scope: DumpScope, route: KernelRoute): boolean {
  if (inProtocols(scope, route.protocol)) return true;
  const range = scope.nexthopIds;
  return (
    range !== undefined &&
    route.target.kind === "nexthop-object" &&
    route.target.id >= range.base &&
    route.target.id < range.base + range.count
  );
}

/** Whether a dump of `scope` lists a nexthop of `protocol` at `id`. */
export function nexthopInScope(scope: DumpScope, id: number, protocol: number): boolean {
  if (inProtocols(scope, protocol)) return true;
  const range = scope.nexthopIds;
  return range !== undefined && id >= range.base && id < range.base + range.count;
}

export interface KernelSnapshot {
  readonly routes: readonly KernelRoute[];
  readonly nexthops: readonly KernelNexthop[];
  readonly rules: readonly KernelRule[];
  readonly links: readonly KernelLink[];
  readonly addresses: readonly KernelAddress[];
  /** False when a dump was interrupted or truncated: nothing may be pruned on its basis. */
  readonly complete: boolean;
}

type ObjectOps<Kind extends string, T> =
  | { readonly object: Kind; readonly action: "add"; readonly to: T }
  | { readonly object: Kind; readonly action: "replace"; readonly from: T; readonly to: T }
  | { readonly object: Kind; readonly action: "delete"; readonly from: T };

/**
 * One change to the kernel, carrying the old and the new value (as FRR's dataplane
 * work items do), so a driver can choose flags and a reader can see what changed.
 * Rules have no replace in Linux: a changed rule is a delete and an add.
 */
export type Op =
  | ObjectOps<"route", KernelRoute>
  | ObjectOps<"nexthop", KernelNexthop>
  | { readonly object: "rule"; readonly action: "add"; readonly to: KernelRule }
  | { readonly object: "rule"; readonly action: "delete"; readonly from: KernelRule };

/** A kernel refusal is a value: errno number, its name, and the kernel's own message (extack or strerror). */
export type OpResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly errno: number; readonly code: string; readonly message: string };

export type KernelChange =
  | {
      readonly kind: "route";
      readonly action: "new" | "del";
      readonly route: KernelRoute;
      /**
       * The route took the place of one at its key (NLM_F_REPLACE on the notification).
       * Absent for a route added beside those there: another program's `ip route append`
       * or `prepend` at kroute's key leaves kroute's route in the kernel.
       */
      readonly replaced?: true;
      /**
       * The route went after the key's other routes (NLM_F_APPEND: `ip route append`).
       * Absent on an add and on a prepend, which puts an IPv4 route before those there,
       * where it leads the key; IPv6 puts it after them either way.
       */
      readonly appended?: true;
    }
  | { readonly kind: "nexthop"; readonly action: "new" | "del"; readonly nexthop: KernelNexthop }
  | { readonly kind: "rule"; readonly action: "new" | "del"; readonly rule: KernelRule }
  | { readonly kind: "link"; readonly action: "new" | "del"; readonly link: KernelLink }
  | { readonly kind: "address"; readonly action: "new" | "del"; readonly address: KernelAddress }
  /** Notifications were lost (ENOBUFS): the only safe reaction is a full resync. */
  | { readonly kind: "overflow" };

/** A flow to look up, as `ip route get DST from SRC ipproto P sport S dport D`. */
export interface FlowQuery {
  readonly dst: IpAddr;
  readonly src?: IpAddr;
  readonly ipProto?: number;
  readonly sport?: number;
  readonly dport?: number;
  readonly table?: number;
  /** `ip route get ... tos T`: the flow's TOS byte; absent 0. IPv4 routes with a TOS serve only flows of theirs. */
  readonly tos?: number;
}

export type LookupResult =
  | {
      readonly ok: true;
      readonly table: number;
      readonly dst: Prefix;
      readonly gateway?: IpAddr;
      readonly dev: string;
    }
  | { readonly ok: false; readonly errno: number; readonly code: string; readonly message: string };

export interface DataplaneFeatures {
  /** Nexthop objects (5.3+). */
  readonly nexthopObjects: boolean;
  /** Resilient nexthop groups (5.13+). */
  readonly resilientGroups: boolean;
}

/** net.ipv4.fib_multipath_hash_policy / net.ipv6.fib_multipath_hash_policy: 0 = L3, 1 = L4. */
export type MultipathHashPolicy = 0 | 1 | 2;

/**
 * The one contract between the core and a kernel. One instance per network namespace;
 * drivers hold no module-level state. A kernel errno is an OpResult, never a throw;
 * methods reject only when the driver itself is broken (socket closed, say).
 */
export interface Dataplane {
  features(): Promise<DataplaneFeatures>;
  list(scope: DumpScope): Promise<KernelSnapshot>;
  /** Applies ops in order; exactly one result per op, in the same order. */
  apply(ops: readonly Op[]): Promise<OpResult[]>;
  /** Kernel change notifications, hot; `overflow` when some were lost. */
  watch(): Observable<KernelChange>;
  lookup(query: FlowQuery): Promise<LookupResult>;
  getMultipathHashPolicy(family: Family): Promise<MultipathHashPolicy>;
  setMultipathHashPolicy(family: Family, policy: MultipathHashPolicy): Promise<void>;
  close(): Promise<void>;
}

/**
 * Why a route's or a flow's TOS cannot be sent, or undefined when it can. rtm_tos is
 * one byte: a netlink encoder would keep its low 8 bits (0x110 goes out as 0x10, at
 * another route's key), so a driver refuses any other value with EINVAL and this text
 * before encoding. The ECN bits and IPv6's TOS the kernel refuses itself.
 */
export function tosOutOfRange(tos: number): string | undefined {
  return Number.isInteger(tos) && tos >= 0 && tos <= 255
    ? undefined
    : `tos ${tos} is out of range: rtm_tos is one byte (0 to 255)`;
}

/** A TOS of 0 adds nothing to the key: a route without one is keyed as before TOS was modelled. */
export function routeKey(route: RouteKey): string {
  const key = `${route.family}|${route.table}|${route.dst}|${route.metric}`;
  return route.tos === undefined || route.tos === 0 ? key : `${key}|tos${route.tos}`;
}

const routeKeys = new WeakMap<KernelRoute, string>();

/**
 * routeKey() of a route object, built once per object (objects are never changed).
 * Why: desired route objects are shared by every node state that wants them, so in a
 * simulation of 1,000 nodes one route is held by 1,000 kernel slices and mirrors; with
 * this they share one key string (and its hash) instead of building 1,000.
 */
export function sharedRouteKey(route: KernelRoute): string {
  let key = routeKeys.get(route);
  if (key === undefined) {
    key = routeKey(route);
    routeKeys.set(route, key);
  }
  return key;
}

export function ruleKey(rule: KernelRule): string {
  return `${rule.family}|${rule.priority}|${rule.src ?? ""}|${rule.dst ?? ""}|${rule.table}|${rule.protocol}|${rule.suppressPrefixLength ?? ""}`;
}
