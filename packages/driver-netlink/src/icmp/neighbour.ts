/**
 * The link-layer address the kernel holds for an IPv6 neighbour on one device
 * (RTM_GETNEIGH, as `ip -6 neigh get ADDRESS dev DEV`), read through a netlink socket
 * of the prober's own, and a nudge (NTF_USE) that has the kernel confirm or resolve
 * that address as it would for a packet routed to the neighbour: a probe sent past
 * the routes would otherwise never refresh the entry, and could go on to a link-layer
 * address the neighbour no longer has, or find none at all.
 *
 * The kernel answers a netlink request inside sendmsg, so the reply is already queued
 * when send returns: each request is synchronous, and never blocks.
 */
import type { IpAddr } from "@kroute/core";
import { ipToBytes } from "../address.ts";
import { decodeAttrs } from "../codec/attrs.ts";
import { Reader, Writer } from "../codec/bytes.ts";
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST, NLMSG_ERROR } from "../codec/constants.ts";
import { beginMessage, endMessage, splitMessages } from "../codec/header.ts";
import { AF_INET6, errnoName, recv, send } from "../ffi.ts";

const RTM_NEWNEIGH = 28;
const RTM_GETNEIGH = 30;
const NTF_USE = 0x01;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDMSG_LENGTH = 12;
/**
 * States whose address is worth sending to: REACHABLE, STALE, DELAY, PROBE,
 * PERMANENT. INCOMPLETE and FAILED have none that answered; NOARP devices none at all.
 */
const NUD_WITH_ADDRESS = 0x02 | 0x04 | 0x08 | 0x10 | 0x80;
/**
 * Entries an administrator set (PERMANENT) or that need no resolution (NOARP): never
 * nudged, as NTF_USE turns a PERMANENT entry into an unresolved one (seen on 6.18).
 */
const NUD_FIXED = 0x80 | 0x40;

export type NeighbourAddress =
  | { readonly ok: true; readonly linkAddress: Uint8Array }
  /** `no neighbour entry`, `no link-layer address (NUD state 0x20)`, or a failed call's errno name. */
  | { readonly ok: false; readonly reason: string };

export interface NeighbourTable {
  /**
   * The link-layer address of `neighbour` (IPv6) on device `ifindex`, as the kernel
   * holds it now; the kernel is asked to confirm or resolve it for the next call.
   */
  linkAddress(neighbour: IpAddr, ifindex: number): NeighbourAddress;
}

/** Lookups through `fd`, a non-blocking NETLINK_ROUTE socket in the namespace to read. */
export function neighbourTable(fd: number): NeighbourTable {
  const writer = new Writer(64);
  const buffer = new Uint8Array(4096);
  let sequence = 0;

  /** One ndmsg request for `neighbour` on `ifindex`, and the kernel's answer to it. */
  const request = (type: number, flags: number, ndmFlags: number, neighbour: IpAddr, ifindex: number) => {
    sequence = (sequence + 1) >>> 0;
    writer.reset();
    const at = beginMessage(writer, type, NLM_F_REQUEST | flags, sequence);
    writer.u8(AF_INET6);
    writer.u8(0);
    writer.u16(0);
    writer.i32(ifindex);
    writer.u16(0); // state: NTF_USE leaves it to the kernel
    writer.u8(ndmFlags);
    writer.u8(0); // type
    writer.attrBytes(NDA_DST, ipToBytes(neighbour));
    endMessage(writer, at);
    const sent = send(fd, writer.view_());
    if (sent < 0) return { kind: "failed", reason: errnoName(-sent) } as const;
    for (;;) {
      const bytes = recv(fd, buffer);
      if (bytes < 0) return { kind: "failed", reason: errnoName(-bytes) } as const;
      const answer = readAnswer(buffer.subarray(0, bytes), sequence);
      if (answer !== undefined) return answer;
    }
  };

  return {
    linkAddress(neighbour, ifindex) {
      const entry = request(RTM_GETNEIGH, 0, 0, neighbour, ifindex);
      if (entry.kind === "failed" && entry.reason !== "ENOENT") return { ok: false, reason: entry.reason };
      const state = entry.kind === "entry" ? entry.state : 0;
      // No entry (ENOENT) is created and resolved, as a routed packet would have it. The
      // nudge's own failure (EPERM without CAP_NET_ADMIN) leaves the entry as it is.
      if ((state & NUD_FIXED) === 0)
        request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_ACK, NTF_USE, neighbour, ifindex);
      if (entry.kind !== "entry") return { ok: false, reason: "no neighbour entry" };
      if ((state & NUD_WITH_ADDRESS) === 0 || entry.linkAddress === undefined) {
        return { ok: false, reason: `no link-layer address (NUD state 0x${state.toString(16)})` };
      }
      return { ok: true, linkAddress: entry.linkAddress };
    },
  };
}

type Answer =
  | { readonly kind: "entry"; readonly state: number; readonly linkAddress: Uint8Array | undefined }
  /** Refused, or the call failed: `reason` is the errno name (ENOENT: no such entry). */
  | { readonly kind: "failed"; readonly reason: string }
  /** A change the kernel made (the nudge): an NLMSG_ERROR with errno 0. */
  | { readonly kind: "acked" };

/** The answer to request `sequence` in one datagram, or undefined when it holds none (a stale reply). */
function readAnswer(data: Uint8Array, sequence: number): Answer | undefined {
  const messages = splitMessages(data);
  if (!messages.ok) return { kind: "failed", reason: `malformed reply: ${messages.error.message}` };
  for (const { header, payload } of messages.value) {
    if (header.seq !== sequence) continue;
    const reader = new Reader(payload);
    if (header.type === NLMSG_ERROR) {
      const errno = reader.has(0, 4) ? -reader.i32(0) : 0;
      return errno === 0 ? { kind: "acked" } : { kind: "failed", reason: errnoName(errno) };
    }
    if (header.type !== RTM_NEWNEIGH || !reader.has(0, NDMSG_LENGTH)) continue;
    const attrs = decodeAttrs(payload.subarray(NDMSG_LENGTH));
    const linkAddress = attrs.ok ? attrs.value.find((a) => a.type === NDA_LLADDR)?.data : undefined;
    return {
      kind: "entry",
      state: reader.u16(8),
      linkAddress: linkAddress === undefined || linkAddress.length === 0 ? undefined : linkAddress.slice(),
    };
  }
  return undefined;
}
