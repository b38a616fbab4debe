/**
 * Opening an ICMP socket for one address family inside a network namespace.
 *
 * Two kinds exist. A raw socket (SOCK_RAW) needs CAP_NET_RAW, which the agent's
 * DaemonSet grants; it sees a copy of every ICMP message the namespace receives, so
 * a kernel filter (ICMP_FILTER / ICMP6_FILTER) lets through echo replies only, and
 * replies are matched by our identifier. A datagram "ping" socket (SOCK_DGRAM with
 * IPPROTO_ICMP) needs no privilege but only works for groups inside
 * net.ipv4.ping_group_range, which is empty by default ("1 0"), root included; the
 * kernel then owns the identifier and hands each socket its own replies.
 *
 * Decision: `auto` (the default) takes a raw socket and falls back to a ping socket
 * when raw is refused (EPERM: no CAP_NET_RAW). kroute never changes
 * ping_group_range itself: it is a namespace-wide security setting.
 */
import type { Family } from "@kroute/core";
import {
  AF_INET,
  AF_INET6,
  close,
  errnoName,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  inNetns,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SyscallError,
  setsockoptBytes,
  setsockoptInt,
  socket,
  strerror,
} from "../ffi.ts";
import { ICMP_ECHO_REPLY, ICMPV6_ECHO_REPLY } from "./packet.ts";

export type IcmpSocketKind = "raw" | "datagram";
export type IcmpSocketMode = IcmpSocketKind | "auto";

export interface IcmpSocket {
  readonly fd: number;
  readonly family: Family;
  readonly kind: IcmpSocketKind;
}

const SOL_RAW = 255;
const ICMP_FILTER = 1;
const ICMP6_FILTER = 1;
const EPERM = 1;
const EACCES = 13;

/** Opens a non-blocking ICMP socket of `family` in namespace `netns` (undefined: the current one). */
export function openIcmpSocket(family: Family, netns: string | undefined, mode: IcmpSocketMode): IcmpSocket {
  const domain = family === 4 ? AF_INET : AF_INET6;
  const protocol = family === 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  const open = (kind: IcmpSocketKind) =>
    inNetns(netns, () => socket(domain, (kind === "raw" ? SOCK_RAW : SOCK_DGRAM) | SOCK_NONBLOCK, protocol));

  let kind: IcmpSocketKind = mode === "datagram" ? "datagram" : "raw";
  let fd = open(kind);
  if (fd === -EPERM && mode === "auto") {
    kind = "datagram";
    fd = open(kind);
  }
  if (fd < 0) {
    const hint =
      kind === "datagram" && (fd === -EACCES || fd === -EPERM)
        ? " (a ping socket needs the process group inside net.ipv4.ping_group_range; a raw one needs CAP_NET_RAW)"
        : "";
    throw new SyscallError(`icmp: socket(IPv${family}, ${kind})${hint}`, -fd);
  }
  if (kind === "raw") {
    const rc = family === 4 ? onlyEchoRepliesV4(fd) : onlyEchoRepliesV6(fd);
    if (rc < 0) {
      close(fd);
      throw new Error(`icmp: setting the echo-reply filter failed: ${errnoName(-rc)} (${strerror(-rc)})`);
    }
  }
  return { fd, family, kind };
}

/** ICMP_FILTER: a bit set blocks that type (types 0..31). Keep only echo replies. */
function onlyEchoRepliesV4(fd: number): number {
  return setsockoptInt(fd, SOL_RAW, ICMP_FILTER, ~(1 << ICMP_ECHO_REPLY));
}

/** ICMP6_FILTER: 256 bits, a set bit blocks that type. Keep only echo replies. */
function onlyEchoRepliesV6(fd: number): number {
  const words = new Uint32Array(8).fill(0xffffffff);
  words[ICMPV6_ECHO_REPLY >> 5] = (words[ICMPV6_ECHO_REPLY >> 5] ?? 0) & ~(1 << (ICMPV6_ECHO_REPLY & 31));
  return setsockoptBytes(fd, IPPROTO_ICMPV6, ICMP6_FILTER, new Uint8Array(words.buffer));
}
