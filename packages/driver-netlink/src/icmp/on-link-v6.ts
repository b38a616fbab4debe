/**
 * Sending an ICMPv6 message straight to a gateway on its own link, past the routing
 * tables: IPv6's stand-in for the MSG_DONTROUTE that IPv4 probes use.
 *
 * Linux offers nothing at the IP layer for this (checked on 6.18): IPv6 ignores
 * MSG_DONTROUTE and SO_DONTROUTE; IPV6_NEXTHOP is refused as a socket option
 * (ENOPROTOOPT) and as ancillary data (EINVAL); binding to the device
 * (SO_BINDTODEVICE, IPV6_PKTINFO) still takes a more specific route via another
 * gateway on that device; a raw socket with IPV6_HDRINCL is routed the same way. So a
 * probe to gateway X, where some route more specific than X's on-link prefix goes
 * via gateway Y, went to Y, and X was judged dead whenever Y was.
 *
 * So the datagram is built here, IPv6 header included, and handed to a packet socket
 * (CAP_NET_RAW, as the raw ICMP socket needs: a prober on ping sockets has no such
 * copy) addressed to the link-layer address the kernel's neighbour table holds for X,
 * as the frames of a nexthop via X are. The source address is the one the kernel
 * picks for X out of that device. Each send also has the kernel confirm that entry,
 * or resolve it where there is none (neighbour.ts): without a usable one nothing is
 * sent, and the next probe finds it resolved.
 */
import type { IpAddr } from "@kroute/core";
import { ipToBytes } from "../address.ts";
import {
  AF_INET6,
  AF_NETLINK,
  AF_PACKET,
  close,
  connect,
  errnoName,
  getsockname,
  inNetns,
  NETLINK_ROUTE,
  SO_BINDTOIFINDEX,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
  sendto,
  setsockoptInt,
  socket,
} from "../ffi.ts";
import { type NeighbourTable, neighbourTable } from "./neighbour.ts";
import { encodeIpv6Datagram } from "./packet.ts";
import { encodeSockaddr, encodeSockaddrLl, SOCKADDR_MAX } from "./sockaddr.ts";

export interface OnLinkSender {
  /**
   * Sends `icmpv6` (its checksum is filled in here) to `gateway` on device `ifindex`;
   * undefined once sent, else why not (`no neighbour entry`, an errno name).
   */
  send(gateway: IpAddr, ifindex: number, icmpv6: Uint8Array): string | undefined;
  close(): void;
}

/** Any port: a UDP socket is connected only to learn the source address the kernel picks. */
const DISCARD_PORT = 9;

/**
 * Opens the three sockets it needs in namespace `netns`: a packet socket to send, a
 * netlink socket to read the neighbour table, a UDP socket to learn source addresses.
 * Returns why not when one cannot be opened.
 */
export function openOnLinkSender(netns: string | undefined): OnLinkSender | string {
  const fds: number[] = [];
  const open = (what: string, domain: number, type: number, protocol: number): string | undefined => {
    const fd = inNetns(netns, () => socket(domain, type | SOCK_NONBLOCK, protocol));
    if (fd < 0) return `socket(${what}): ${errnoName(-fd)}`;
    fds.push(fd);
    return undefined;
  };
  const failed =
    // Protocol 0: a packet socket that receives nothing; it only sends.
    open("AF_PACKET", AF_PACKET, SOCK_DGRAM, 0) ??
    open("AF_NETLINK", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) ??
    open("AF_INET6, UDP", AF_INET6, SOCK_DGRAM, 0);
  if (failed !== undefined) {
    for (const fd of fds) close(fd);
    return failed;
  }
  const [packetFd, netlinkFd, udpFd] = fds as [number, number, number];
  const neighbours: NeighbourTable = neighbourTable(netlinkFd);
  const local = new Uint8Array(SOCKADDR_MAX);

  /** The source address the kernel would give a datagram to `gateway` out of `ifindex`. */
  const sourceFor = (gateway: IpAddr, ifindex: number): Uint8Array | string => {
    const bound = setsockoptInt(udpFd, SOL_SOCKET, SO_BINDTOIFINDEX, ifindex);
    if (bound < 0) return `SO_BINDTOIFINDEX: ${errnoName(-bound)}`;
    const remote = encodeSockaddr(gateway);
    new DataView(remote.buffer).setUint16(2, DISCARD_PORT, false);
    const connected = connect(udpFd, remote);
    if (connected < 0) return errnoName(-connected);
    const length = getsockname(udpFd, local);
    if (length < 24) return length < 0 ? errnoName(-length) : "getsockname: short address";
    return local.slice(8, 24);
  };

  return {
    send(gateway, ifindex, icmpv6) {
      const neighbour = neighbours.linkAddress(gateway, ifindex);
      if (!neighbour.ok) return neighbour.reason;
      const source = sourceFor(gateway, ifindex);
      if (typeof source === "string") return source;
      const datagram = encodeIpv6Datagram(source, ipToBytes(gateway), icmpv6);
      const rc = sendto(packetFd, datagram, encodeSockaddrLl(ifindex, neighbour.linkAddress));
      return rc < 0 ? errnoName(-rc) : undefined;
    },
    close() {
      for (const fd of fds) close(fd);
    },
  };
}
