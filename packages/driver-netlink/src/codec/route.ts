/**
 * RTM_NEWROUTE / DELROUTE / GETROUTE: struct rtmsg (12 bytes) then RTA_* attributes,
 * RTA_MULTIPATH holding rtnexthop records `{u16 len, u8 flags, u8 hops, i32 ifindex}`
 * each followed by its own attributes (RTA_GATEWAY). Of RTA_CACHEINFO (struct
 * rta_cacheinfo) only rta_expires is read, never written.
 */
import { AttrCheck, decodeAttrs, type RawAttr } from "./attrs.ts";
import { type Decoded, decodeError, Reader, type Writer } from "./bytes.ts";
import {
  RTA_CACHEINFO,
  RTA_DPORT,
  RTA_DST,
  RTA_GATEWAY,
  RTA_IIF,
  RTA_IP_PROTO,
  RTA_MULTIPATH,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_SPORT,
  RTA_SRC,
  RTA_TABLE,
  RTA_VIA,
} from "./constants.ts";

export interface RtNexthop {
  readonly flags: number;
  /** Weight minus one, as on the wire. */
  readonly hops: number;
  readonly ifindex: number;
  readonly gateway?: Uint8Array;
  /** RTA_VIA: a gateway of the other family (an IPv4 route via an IPv6 next hop). */
  readonly via?: Uint8Array;
}

export interface RouteMessage {
  readonly family: number;
  readonly dstLen: number;
  readonly srcLen: number;
  readonly tos: number;
  /** rtm_table: the table id when < 256 (RTA_TABLE carries the full id). */
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
  readonly dst?: Uint8Array;
  readonly src?: Uint8Array;
  readonly iif?: number;
  readonly oif?: number;
  readonly gateway?: Uint8Array;
  /** RTA_VIA (struct rtvia: u16 family, address): a gateway of the other family. */
  readonly via?: Uint8Array;
  readonly priority?: number;
  readonly prefsrc?: Uint8Array;
  readonly multipath?: readonly RtNexthop[];
  readonly tableId?: number;
  readonly ipProto?: number;
  readonly sport?: number;
  readonly dport?: number;
  readonly nhId?: number;
  /**
   * rta_expires of RTA_CACHEINFO, in clock ticks (USER_HZ, 100 a second): the time left
   * before the kernel stops using the route (an IPv6 route learned from a router
   * advertisement), negative once it has expired and waits for the garbage collector.
   * Absent when the kernel reports no expiry (zero).
   */
  readonly expires?: number;
}

export const RTMSG_LEN = 12;

/** struct rta_cacheinfo: rta_clntref, rta_lastuse, then rta_expires (s32) at byte 8. */
const RTA_EXPIRES_OFFSET = 8;

export function encodeRoute(w: Writer, m: RouteMessage): void {
  w.u8(m.family);
  w.u8(m.dstLen);
  w.u8(m.srcLen);
  w.u8(m.tos);
  w.u8(m.table);
  w.u8(m.protocol);
  w.u8(m.scope);
  w.u8(m.type);
  w.u32(m.flags);
  if (m.tableId !== undefined) w.attrU32(RTA_TABLE, m.tableId);
  if (m.dst !== undefined) w.attrBytes(RTA_DST, m.dst);
  if (m.src !== undefined) w.attrBytes(RTA_SRC, m.src);
  if (m.iif !== undefined) w.attrU32(RTA_IIF, m.iif);
  if (m.oif !== undefined) w.attrU32(RTA_OIF, m.oif);
  if (m.gateway !== undefined) w.attrBytes(RTA_GATEWAY, m.gateway);
  if (m.via !== undefined) encodeVia(w, m.via);
  if (m.priority !== undefined) w.attrU32(RTA_PRIORITY, m.priority);
  if (m.prefsrc !== undefined) w.attrBytes(RTA_PREFSRC, m.prefsrc);
  if (m.nhId !== undefined) w.attrU32(RTA_NH_ID, m.nhId);
  if (m.ipProto !== undefined) w.attrU8(RTA_IP_PROTO, m.ipProto);
  if (m.sport !== undefined) w.attrU16be(RTA_SPORT, m.sport);
  if (m.dport !== undefined) w.attrU16be(RTA_DPORT, m.dport);
  if (m.multipath !== undefined) {
    const mp = w.beginAttr(RTA_MULTIPATH);
    for (const nh of m.multipath) {
      const at = w.offset;
      w.u16(0);
      w.u8(nh.flags);
      w.u8(nh.hops);
      w.i32(nh.ifindex);
      if (nh.gateway !== undefined) w.attrBytes(RTA_GATEWAY, nh.gateway);
      if (nh.via !== undefined) encodeVia(w, nh.via);
      w.patchU16(at, w.offset - at);
    }
    w.endAttr(mp);
  }
}

const AF_INET = 2;
const AF_INET6 = 10;

function encodeVia(w: Writer, address: Uint8Array): void {
  const at = w.beginAttr(RTA_VIA);
  w.u16(address.byteLength === 16 ? AF_INET6 : AF_INET);
  w.bytes(address);
  w.endAttr(at);
}

function decodeVia(attr: RawAttr, check: AttrCheck): Uint8Array {
  const bytes = attr.data.byteLength - 2;
  if (bytes !== 4 && bytes !== 16) {
    check.report(`RTA_VIA must hold a 4 or 16 byte address, got ${bytes} bytes`, attr.offset);
    return new Uint8Array(4);
  }
  return attr.data.slice(2);
}

function decodeExpires(attr: RawAttr, check: AttrCheck): number {
  if (attr.data.byteLength < RTA_EXPIRES_OFFSET + 4) {
    check.report(
      `RTA_CACHEINFO must hold rta_expires (${RTA_EXPIRES_OFFSET + 4} bytes), got ${attr.data.byteLength} bytes`,
      attr.offset,
    );
    return 0;
  }
  return new Reader(attr.data).i32(RTA_EXPIRES_OFFSET);
}

function decodeMultipath(data: Uint8Array, base: number, check: AttrCheck): RtNexthop[] {
  const reader = new Reader(data);
  const hops: RtNexthop[] = [];
  let at = 0;
  while (at + 8 <= reader.length) {
    const length = reader.u16(at);
    if (length < 8 || at + length > reader.length) {
      check.report(`rtnexthop length ${length} does not fit in ${reader.length - at} bytes`, base + at);
      return hops;
    }
    let nh: RtNexthop = { flags: reader.u8(at + 2), hops: reader.u8(at + 3), ifindex: reader.i32(at + 4) };
    const attrs = decodeAttrs(reader.slice(at + 8, length - 8), base + at + 8);
    if (!attrs.ok) {
      check.report(attrs.error.message, attrs.error.offset);
      return hops;
    }
    for (const attr of attrs.value) {
      if (attr.type === RTA_GATEWAY)
        nh = { ...nh, gateway: check.address(attr, "RTA_GATEWAY in RTA_MULTIPATH") };
      else if (attr.type === RTA_VIA) nh = { ...nh, via: decodeVia(attr, check) };
    }
    hops.push(nh);
    at += (length + 3) & ~3;
  }
  return hops;
}

export function decodeRoute(payload: Uint8Array, base: number): Decoded<RouteMessage> {
  const reader = new Reader(payload);
  if (!reader.has(0, RTMSG_LEN))
    return decodeError(`rtmsg needs ${RTMSG_LEN} bytes, got ${payload.length}`, base);
  const attrs = decodeAttrs(payload.subarray(RTMSG_LEN), base + RTMSG_LEN);
  if (!attrs.ok) return attrs;
  const check = new AttrCheck();
  const m: {
    -readonly [K in keyof RouteMessage]: RouteMessage[K];
  } = {
    family: reader.u8(0),
    dstLen: reader.u8(1),
    srcLen: reader.u8(2),
    tos: reader.u8(3),
    table: reader.u8(4),
    protocol: reader.u8(5),
    scope: reader.u8(6),
    type: reader.u8(7),
    flags: reader.u32(8),
  };
  for (const attr of attrs.value) {
    switch (attr.type) {
      case RTA_TABLE:
        m.tableId = check.u32(attr, "RTA_TABLE");
        break;
      case RTA_DST:
        m.dst = check.address(attr, "RTA_DST");
        break;
      case RTA_SRC:
        m.src = check.address(attr, "RTA_SRC");
        break;
      case RTA_IIF:
        m.iif = check.u32(attr, "RTA_IIF");
        break;
      case RTA_OIF:
        m.oif = check.u32(attr, "RTA_OIF");
        break;
      case RTA_GATEWAY:
        m.gateway = check.address(attr, "RTA_GATEWAY");
        break;
      case RTA_VIA:
        m.via = decodeVia(attr, check);
        break;
      case RTA_PRIORITY:
        m.priority = check.u32(attr, "RTA_PRIORITY");
        break;
      case RTA_PREFSRC:
        m.prefsrc = check.address(attr, "RTA_PREFSRC");
        break;
      case RTA_NH_ID:
        m.nhId = check.u32(attr, "RTA_NH_ID");
        break;
      case RTA_IP_PROTO:
        m.ipProto = check.u8(attr, "RTA_IP_PROTO");
        break;
      case RTA_SPORT:
        m.sport = check.u16be(attr, "RTA_SPORT");
        break;
      case RTA_DPORT:
        m.dport = check.u16be(attr, "RTA_DPORT");
        break;
      case RTA_MULTIPATH:
        m.multipath = decodeMultipath(attr.data, attr.offset, check);
        break;
      case RTA_CACHEINFO: {
        const expires = decodeExpires(attr, check);
        if (expires !== 0) m.expires = expires;
        break;
      }
      default:
        break; // attributes kroute does not model (metrics, pref...)
    }
  }
  return check.result<RouteMessage>(m);
}
