/**
 * RTM_NEWROUTE and RTM_DELROUTE bodies written straight into the send buffer, for the
 * routes kroute writes by the thousand: an IPv4 destination via one same-family
 * gateway, a nexthop object, a device or a special type. A 100,000-route batch spent
 * more on building a RouteMessage per route (and a byte array per address) than on
 * writing the bytes, and on this 2-vCPU path the encoder's time adds to the kernel's
 * (`pnpm bench netlink-install`, inline gateways: 0.27–0.30 s before, 0.24–0.27 s after).
 *
 * Every other route goes the reference way, routeToMessage then encodeRoute. A property
 * test (test/route-writer.test.ts) holds both ways to the same bytes for any route.
 */
import type { KernelRoute } from "@kroute/core";
import { AF_INET, v4Value } from "../address.ts";
import type { Writer } from "../codec/bytes.ts";
import {
  RTA_DST,
  RTA_GATEWAY,
  RTA_NH_ID,
  RTA_OIF,
  RTA_PREFSRC,
  RTA_PRIORITY,
  RTA_TABLE,
  RTN_UNICAST,
  RTN_UNSPEC,
} from "../codec/constants.ts";
import type { BodyWriter } from "../codec/message.ts";
import { encodeRoute } from "../codec/route.ts";
import type { LinkNames } from "./names.ts";
import {
  ifindex,
  RT_SCOPE_NOWHERE,
  routeKeyMessage,
  routeToMessage,
  rtmTable,
  specialType,
} from "./routes.ts";

/** An attribute left out (address values and ids are never negative). */
const NONE = -1;

/**
 * The body of RTM_NEWROUTE for `route`. Devices are resolved and the TOS checked now,
 * so an unknown device (UnknownDeviceError) or a TOS a byte cannot hold
 * (TosOutOfRangeError) throws here, per op, not while the batch is being written.
 */
export function newRouteBody(route: KernelRoute, names: LinkNames): BodyWriter {
  const slash = route.family === 4 ? route.dst.indexOf("/") : -1;
  const dst = slash > 0 ? (v4Value(route.dst, 0, slash) ?? NONE) : NONE;
  const prefsrc =
    route.prefsrc === undefined ? NONE : (v4Value(route.prefsrc, 0, route.prefsrc.length) ?? NONE);
  const target = route.target;
  let oif = NONE;
  let gateway = NONE;
  let nhId = NONE;
  let type = RTN_UNICAST;
  // A TOS (another program's route, never kroute's) goes the reference way.
  let fast = dst !== NONE && route.tos === undefined && (route.prefsrc === undefined || prefsrc !== NONE);
  if (fast) {
    switch (target.kind) {
      case "gateways": {
        const only = target.nexthops.length === 1 ? target.nexthops[0] : undefined;
        // Several gateways (RTA_MULTIPATH), a weight, or an IPv6 gateway (RTA_VIA): the reference path.
        gateway =
          only !== undefined && only.weight === 1
            ? (v4Value(only.gateway, 0, only.gateway.length) ?? NONE)
            : NONE;
        if (only === undefined || gateway === NONE) fast = false;
        else oif = ifindex(names, only.dev);
        break;
      }
      case "nexthop-object":
        nhId = target.id;
        break;
      case "device":
        oif = ifindex(names, target.dev);
        break;
      case "special":
        type = specialType(target.type);
        break;
    }
  }
  if (!fast) {
    const message = routeToMessage(route, names);
    return (w) => encodeRoute(w, message);
  }
  const fields: Ipv4RouteFields = {
    dstLen: prefixLengthAfter(route.dst, slash),
    dst,
    table: route.table,
    protocol: route.protocol,
    scope: route.scope,
    type,
    metric: route.metric,
    oif,
    gateway,
    prefsrc,
    nhId,
  };
  return (w) => writeIpv4Route(w, fields);
}

/**
 * The body of RTM_DELROUTE naming `route` by its full key (routeKeyMessage's bytes);
 * throws TosOutOfRangeError now, per op, for a TOS a byte cannot hold.
 */
export function routeKeyBody(route: KernelRoute): BodyWriter {
  const slash = route.family === 4 ? route.dst.indexOf("/") : -1;
  const dst = slash > 0 ? (v4Value(route.dst, 0, slash) ?? NONE) : NONE;
  if (dst === NONE || route.tos !== undefined) {
    const message = routeKeyMessage(route);
    return (w) => encodeRoute(w, message);
  }
  const fields: Ipv4RouteFields = {
    dstLen: prefixLengthAfter(route.dst, slash),
    dst,
    table: route.table,
    protocol: route.protocol,
    scope: RT_SCOPE_NOWHERE,
    type: RTN_UNSPEC,
    metric: route.metric,
    oif: NONE,
    gateway: NONE,
    prefsrc: NONE,
    nhId: NONE,
  };
  return (w) => writeIpv4Route(w, fields);
}

/** An IPv4 route's rtmsg and attributes; NONE leaves an attribute out. */
interface Ipv4RouteFields {
  readonly dstLen: number;
  readonly dst: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly metric: number;
  readonly oif: number;
  readonly gateway: number;
  readonly prefsrc: number;
  readonly nhId: number;
}

/** In encodeRoute's order: rtmsg, TABLE, DST, OIF, GATEWAY, PRIORITY, PREFSRC, NH_ID. */
function writeIpv4Route(w: Writer, f: Ipv4RouteFields): void {
  writeRtmsg(w, f.dstLen, rtmTable(f.table), f.protocol, f.scope, f.type);
  w.attrU32(RTA_TABLE, f.table);
  w.attrU32be(RTA_DST, f.dst);
  if (f.oif !== NONE) w.attrU32(RTA_OIF, f.oif);
  if (f.gateway !== NONE) w.attrU32be(RTA_GATEWAY, f.gateway);
  w.attrU32(RTA_PRIORITY, f.metric);
  if (f.prefsrc !== NONE) w.attrU32be(RTA_PREFSRC, f.prefsrc);
  if (f.nhId !== NONE) w.attrU32(RTA_NH_ID, f.nhId);
}

/** The length of a canonical prefix (core's Prefix), read after its slash without slicing. */
function prefixLengthAfter(prefix: string, slash: number): number {
  let length = 0;
  for (let i = slash + 1; i < prefix.length; i++) length = length * 10 + (prefix.charCodeAt(i) - 48);
  return length;
}

/** struct rtmsg of an IPv4 route: family, dst_len, src_len 0, tos 0, table, protocol, scope, type, flags 0. */
function writeRtmsg(
  w: Writer,
  dstLen: number,
  table: number,
  protocol: number,
  scope: number,
  type: number,
): void {
  w.u8(AF_INET);
  w.u8(dstLen);
  w.u8(0);
  w.u8(0);
  w.u8(table);
  w.u8(protocol);
  w.u8(scope);
  w.u8(type);
  w.u32(0);
}
