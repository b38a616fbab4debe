/**
 * ICMP and ICMPv6 echo messages (RFC 792, RFC 4443): building a request and
 * recognising a reply. Pure byte work, no sockets.
 */
import type { Family } from "@kroute/core";

export const ICMP_ECHO_REPLY = 0;
export const ICMP_ECHO_REQUEST = 8;
export const ICMPV6_ECHO_REQUEST = 128;
export const ICMPV6_ECHO_REPLY = 129;

/** Bytes after the 8-byte echo header; they carry a marker so stray replies are recognised. */
const PAYLOAD = new TextEncoder().encode("kroute-probe....");

export interface Echo {
  readonly identifier: number;
  readonly sequence: number;
}

/** The Internet checksum (RFC 1071) over `data`. */
export function internetChecksum(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += ((data[i] ?? 0) << 8) | (data[i + 1] ?? 0);
  if (data.length % 2 === 1) sum += (data[data.length - 1] ?? 0) << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/**
 * An echo request. The ICMPv4 checksum is filled in here (raw sockets send it as is);
 * ICMPv6's covers a pseudo-header only the kernel knows, and the kernel computes it.
 */
export function encodeEchoRequest(family: Family, echo: Echo): Uint8Array {
  const out = new Uint8Array(8 + PAYLOAD.length);
  const view = new DataView(out.buffer);
  out[0] = family === 4 ? ICMP_ECHO_REQUEST : ICMPV6_ECHO_REQUEST;
  view.setUint16(4, echo.identifier & 0xffff, false);
  view.setUint16(6, echo.sequence & 0xffff, false);
  out.set(PAYLOAD, 8);
  if (family === 4) view.setUint16(2, internetChecksum(out), false);
  return out;
}

/**
 * The echo reply in a received datagram, or undefined when it is anything else.
 * `withIpHeader`: raw IPv4 sockets deliver the IP header first; every other kind of
 * ICMP socket delivers the ICMP message alone.
 */
export function decodeEchoReply(family: Family, data: Uint8Array, withIpHeader: boolean): Echo | undefined {
  let offset = 0;
  if (withIpHeader) {
    if (data.length < 20 || (data[0] ?? 0) >> 4 !== 4) return undefined;
    offset = ((data[0] ?? 0) & 0x0f) * 4;
  }
  if (data.length < offset + 8 + PAYLOAD.length) return undefined;
  const type = data[offset];
  if (type !== (family === 4 ? ICMP_ECHO_REPLY : ICMPV6_ECHO_REPLY) || data[offset + 1] !== 0)
    return undefined;
  for (let i = 0; i < PAYLOAD.length; i++) if (data[offset + 8 + i] !== PAYLOAD[i]) return undefined;
  const view = new DataView(data.buffer, data.byteOffset + offset, 8);
  return { identifier: view.getUint16(4, false), sequence: view.getUint16(6, false) };
}

const IPPROTO_ICMPV6 = 58;
/** The hop limit Linux gives unicast packets by default (net.ipv6.conf.*.hop_limit). */
const HOP_LIMIT = 64;

/**
 * An IPv6 datagram carrying `icmpv6` from `source` to `destination` (16 bytes each),
 * for a socket that sends below IP and so leaves header and ICMPv6 checksum to us:
 * the checksum covers the pseudo-header of RFC 8200 section 8.1.
 */
export function encodeIpv6Datagram(
  source: Uint8Array,
  destination: Uint8Array,
  icmpv6: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(40 + icmpv6.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, 6 << 28, false); // version 6, traffic class and flow label 0
  view.setUint16(4, icmpv6.length, false);
  out[6] = IPPROTO_ICMPV6;
  out[7] = HOP_LIMIT;
  out.set(source, 8);
  out.set(destination, 24);
  out.set(icmpv6, 40);
  view.setUint16(42, 0, false);
  const pseudo = new Uint8Array(40 + icmpv6.length);
  pseudo.set(source, 0);
  pseudo.set(destination, 16);
  new DataView(pseudo.buffer).setUint32(32, icmpv6.length, false);
  pseudo[39] = IPPROTO_ICMPV6;
  pseudo.set(out.subarray(40), 40);
  view.setUint16(42, internetChecksum(pseudo), false);
  return out;
}
