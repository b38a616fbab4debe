/** KernelRoute ↔ rtmsg. */
import {
  type FlowQuery,
  type InlineNexthop,
  type KernelRoute,
  type RouteTarget,
  tosOutOfRange,
} from "@kroute/core";
import { afOf, bytesToIp, bytesToPrefix, familyOfAf, ipToBytes, prefixBytes } from "../address.ts";
import {
  RT_TABLE_UNSPEC,
  RTM_F_FIB_MATCH,
  RTN_ANYCAST,
  RTN_BLACKHOLE,
  RTN_BROADCAST,
  RTN_LOCAL,
  RTN_MULTICAST,
  RTN_NAT,
  RTN_PROHIBIT,
  RTN_THROW,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  RTN_UNSPEC,
  RTNH_F_LINKDOWN,
} from "../codec/constants.ts";
import type { RouteMessage } from "../codec/route.ts";
import type { LinkNames } from "./names.ts";

const SPECIAL_TYPES: ReadonlyMap<number, string> = new Map([
  [RTN_UNSPEC, "unspec"],
  [RTN_LOCAL, "local"],
  [RTN_BROADCAST, "broadcast"],
  [RTN_ANYCAST, "anycast"],
  [RTN_MULTICAST, "multicast"],
  [RTN_BLACKHOLE, "blackhole"],
  [RTN_UNREACHABLE, "unreachable"],
  [RTN_PROHIBIT, "prohibit"],
  [RTN_THROW, "throw"],
  [RTN_NAT, "nat"],
]);
const SPECIAL_BY_NAME: ReadonlyMap<string, number> = new Map([...SPECIAL_TYPES].map(([k, v]) => [v, k]));

const RTM_F_LOOKUP_TABLE = 0x1000;

/** RT_SCOPE_NOWHERE: in a delete request, "any scope". */
export const RT_SCOPE_NOWHERE = 255;

export class UnknownDeviceError extends Error {
  readonly dev: string;
  constructor(dev: string) {
    super(`device ${JSON.stringify(dev)} does not exist in this namespace`);
    this.dev = dev;
  }
}

/**
 * Gateways repeat across thousands of routes: their wire bytes are parsed once.
 * Shared arrays are only ever read (encoders copy them into the message).
 */
const gatewayBytes = new Map<string, Uint8Array>();
function gatewayToBytes(gateway: string): Uint8Array {
  let bytes = gatewayBytes.get(gateway);
  if (bytes === undefined) {
    if (gatewayBytes.size >= 4096) gatewayBytes.clear();
    bytes = ipToBytes(gateway as Parameters<typeof ipToBytes>[0]);
    gatewayBytes.set(gateway, bytes);
  }
  return bytes;
}

/** A TOS rtm_tos cannot hold (core's tosOutOfRange): the op is refused before it is encoded. */
export class TosOutOfRangeError extends Error {
  readonly tos: number;
  constructor(tos: number, reason: string) {
    super(reason);
    this.tos = tos;
  }
}

/** rtm_tos of a route: its TOS, or TosOutOfRangeError for one a byte cannot hold. */
function tosByte(route: KernelRoute): number {
  const tos = route.tos ?? 0;
  const reason = tosOutOfRange(tos);
  if (reason !== undefined) throw new TosOutOfRangeError(tos, reason);
  return tos;
}

export function ifindex(names: LinkNames, dev: string): number {
  const index = names.indexOf(dev);
  if (index === undefined) throw new UnknownDeviceError(dev);
  return index;
}

export function rtmTable(table: number): number {
  return table < 256 ? table : RT_TABLE_UNSPEC;
}

/** rtm_type of a special route ("blackhole", "unreachable"...). */
export function specialType(name: string): number {
  const type = SPECIAL_BY_NAME.get(name);
  if (type === undefined) throw new Error(`route target: unknown special type ${JSON.stringify(name)}`);
  return type;
}

/**
 * The rtmsg to create or replace `route`. Throws UnknownDeviceError for an unknown dev,
 * TosOutOfRangeError for a TOS a byte cannot hold.
 */
export function routeToMessage(route: KernelRoute, names: LinkNames): RouteMessage {
  const dst = prefixBytes(route.dst);
  // One object, filled in place: this runs per route in 100,000-route batches.
  const m: { -readonly [K in keyof RouteMessage]: RouteMessage[K] } = {
    family: afOf(route.family),
    dstLen: dst.length,
    srcLen: 0,
    tos: tosByte(route),
    table: rtmTable(route.table),
    protocol: route.protocol,
    scope: route.scope,
    type: RTN_UNICAST,
    flags: 0,
    tableId: route.table,
    dst: dst.bytes,
    priority: route.metric,
  };
  if (route.prefsrc !== undefined) m.prefsrc = ipToBytes(route.prefsrc);
  const target = route.target;
  switch (target.kind) {
    case "gateways": {
      const only = target.nexthops.length === 1 ? target.nexthops[0] : undefined;
      if (only !== undefined && only.weight === 1) {
        // A gateway of the other family (IPv4 over an IPv6 next hop) must go as RTA_VIA.
        if (only.gateway.includes(":") === (route.family === 6)) m.gateway = gatewayToBytes(only.gateway);
        else m.via = gatewayToBytes(only.gateway);
        m.oif = ifindex(names, only.dev);
      } else {
        m.multipath = target.nexthops.map((nh) => {
          const hop = { flags: 0, hops: nh.weight - 1, ifindex: ifindex(names, nh.dev) };
          const bytes = gatewayToBytes(nh.gateway);
          return nh.gateway.includes(":") === (route.family === 6)
            ? { ...hop, gateway: bytes }
            : { ...hop, via: bytes };
        });
      }
      return m;
    }
    case "nexthop-object":
      m.nhId = target.id;
      return m;
    case "device":
      m.oif = ifindex(names, target.dev);
      return m;
    case "special":
      m.type = specialType(target.type);
      return m;
  }
}

/**
 * RTM_DELROUTE by the full key (table, dst, tos, metric) and owner protocol; any scope,
 * any nexthop. Throws TosOutOfRangeError for a TOS a byte cannot hold.
 */
export function routeKeyMessage(route: KernelRoute): RouteMessage {
  const dst = prefixBytes(route.dst);
  return {
    family: afOf(route.family),
    dstLen: dst.length,
    srcLen: 0,
    tos: tosByte(route),
    table: rtmTable(route.table),
    protocol: route.protocol,
    scope: RT_SCOPE_NOWHERE,
    type: RTN_UNSPEC,
    flags: 0,
    tableId: route.table,
    dst: dst.bytes,
    priority: route.metric,
  };
}

function inlineNexthop(
  gateway: Uint8Array,
  index: number,
  weight: number,
  flags: number,
  names: LinkNames,
): InlineNexthop {
  const nh = { gateway: bytesToIp(gateway), dev: names.nameOf(index), weight };
  return (flags & RTNH_F_LINKDOWN) !== 0 ? { ...nh, linkdown: true } : nh;
}

/** A dumped or notified route; undefined for families kroute does not model. */
export function messageToRoute(m: RouteMessage, names: LinkNames): KernelRoute | undefined {
  const family = familyOfAf(m.family);
  if (family === undefined) return undefined;
  let target: RouteTarget;
  if (m.type !== RTN_UNICAST) {
    target = { kind: "special", type: SPECIAL_TYPES.get(m.type) ?? `type-${m.type}` };
  } else if (m.nhId !== undefined) {
    target = { kind: "nexthop-object", id: m.nhId };
  } else if (m.multipath !== undefined && m.multipath.length > 0) {
    const nexthops: InlineNexthop[] = [];
    for (const nh of m.multipath) {
      const gateway = nh.gateway ?? nh.via;
      if (gateway !== undefined)
        nexthops.push(inlineNexthop(gateway, nh.ifindex, nh.hops + 1, nh.flags, names));
    }
    target =
      nexthops.length > 0
        ? { kind: "gateways", nexthops }
        : { kind: "device", dev: names.nameOf(m.multipath[0]?.ifindex ?? 0) };
  } else if (m.gateway !== undefined || m.via !== undefined) {
    const gateway = (m.gateway ?? m.via) as Uint8Array;
    target = { kind: "gateways", nexthops: [inlineNexthop(gateway, m.oif ?? 0, 1, m.flags, names)] };
  } else {
    target = { kind: "device", dev: names.nameOf(m.oif ?? 0) };
  }
  const route: KernelRoute = {
    family,
    table: m.tableId ?? m.table,
    dst: bytesToPrefix(family, m.dst, m.dstLen),
    metric: m.priority ?? 0,
    // Absent is 0: only another program's IPv4 routes have one.
    ...(m.tos !== 0 ? { tos: m.tos } : {}),
    protocol: m.protocol,
    scope: m.scope,
    target,
  };
  const prefsrc = m.prefsrc !== undefined ? { ...route, prefsrc: bytesToIp(m.prefsrc) } : route;
  return m.expires !== undefined ? { ...prefsrc, expiresInMs: m.expires * MS_PER_CLOCK_TICK } : prefsrc;
}

/** The kernel counts rta_expires in USER_HZ ticks, 100 a second on every architecture kroute runs on. */
const MS_PER_CLOCK_TICK = 10;

/** RTM_GETROUTE for a flow, as `ip route get`; `fibMatch` asks for the matching route instead. */
export function lookupMessage(query: FlowQuery, fibMatch: boolean): RouteMessage {
  const family = query.dst.includes(":") ? 6 : 4;
  const full = family === 4 ? 32 : 128;
  return {
    family: afOf(family),
    dstLen: full,
    srcLen: query.src !== undefined ? full : 0,
    tos: query.tos ?? 0,
    table: 0,
    protocol: 0,
    scope: 0,
    type: 0,
    // IPv4 reports the table that answered only when asked (RTM_F_LOOKUP_TABLE); IPv6 always
    // does, and its strict checking refuses that flag.
    flags: (fibMatch ? RTM_F_FIB_MATCH : 0) | (family === 4 ? RTM_F_LOOKUP_TABLE : 0),
    dst: ipToBytes(query.dst),
    ...(query.src !== undefined ? { src: ipToBytes(query.src) } : {}),
    ...(query.ipProto !== undefined ? { ipProto: query.ipProto } : {}),
    ...(query.sport !== undefined ? { sport: query.sport } : {}),
    ...(query.dport !== undefined ? { dport: query.dport } : {}),
  };
}
