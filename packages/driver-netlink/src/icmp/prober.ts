/**
 * ICMP echo probing of gateways, IPv4 and IPv6, from inside a network namespace.
 *
 * One prober holds at most one socket per address family, opened on first use, and
 * serves any number of gateways with any number of probes in flight: each probe gets
 * its own sequence number and timer, and a reply counts only when its sequence,
 * identifier (raw sockets) and source address all match. Nothing blocks: sockets are
 * non-blocking and replies are read when libuv reports the socket readable.
 *
 * A probe goes to the gateway on its own link, as its nexthop's traffic does, even
 * where a route sends the gateway's address through another gateway: IPv4 by
 * MSG_DONTROUTE; IPv6, which has no such flag, by a second copy sent below IP
 * (on-link-v6.ts) beside the routed one, whichever is answered first.
 */
import { addressBits, type Family, familyOf, type IpAddr } from "@kroute/core";
import {
  close as closeFd,
  deviceIndex,
  EAGAIN,
  errnoName,
  MSG_DONTROUTE,
  type ReadableWatch,
  recvfrom,
  sendto,
  watchReadable,
} from "../ffi.ts";
import { type OnLinkSender, openOnLinkSender } from "./on-link-v6.ts";
import { decodeEchoReply, encodeEchoRequest } from "./packet.ts";
import { decodeSockaddr, encodeSockaddr, SOCKADDR_MAX } from "./sockaddr.ts";
import { type IcmpSocket, type IcmpSocketKind, type IcmpSocketMode, openIcmpSocket } from "./socket.ts";

export type EchoResult =
  | { readonly ok: true; readonly rttMs: number }
  /** `timeout`, or the errno name of a failed send (ENETUNREACH...), or `closed`. */
  | { readonly ok: false; readonly reason: string };

export interface IcmpProberOptions {
  /** Network namespace name (as under /var/run/netns); absent: the process's own. */
  readonly netns?: string;
  /**
   * Socket kind; `auto` (default) is raw, falling back to a ping socket without
   * CAP_NET_RAW. On ping sockets an IPv6 probe is routed only (its on-link copy needs
   * CAP_NET_RAW too), so a route via another gateway still diverts it.
   */
  readonly socket?: IcmpSocketMode;
  /**
   * Called once, when IPv6 probing starts, if its probes can only follow the routes
   * (no on-link copy: a ping socket, or the copy's sockets refused), with why: a route
   * via another gateway then diverts a gateway's probe, and the operator should know.
   */
  readonly onRoutedOnly?: (reason: string) => void;
}

export interface IcmpProber {
  /**
   * Sends one echo request to `gateway` and settles with its reply or a failure; rejects
   * only on bad input or a socket that cannot be opened. `dev`: the device the
   * gateway's nexthop goes out of. A link-local gateway is probed out of it and
   * answered only from it: fe80::1 is another router on every link, and without a
   * device the kernel sends out of whichever link's fe80::/64 route it meets first
   * (a ping socket refuses to send at all, EINVAL).
   */
  echo(gateway: IpAddr, timeoutMs: number, dev?: string): Promise<EchoResult>;
  /** The socket kind in use for a family, once opened. */
  socketKind(family: Family): IcmpSocketKind | undefined;
  /** Closes the sockets; probes in flight settle as `closed`. */
  close(): void;
}

interface Pending {
  readonly gateway: IpAddr;
  /** The device index a link-local gateway was probed on (its reply must come from there); else 0. */
  readonly scopeId: number;
  readonly sentAt: number;
  readonly timer: NodeJS.Timeout;
  readonly settle: (result: EchoResult) => void;
}

interface Channel {
  readonly socket: IcmpSocket;
  readonly identifier: number;
  readonly pending: Map<number, Pending>;
  readonly watch: ReadableWatch;
  /** IPv6 on a raw socket: the sender of the on-link copy, when its sockets could be opened. */
  readonly onLink: OnLinkSender | undefined;
  nextSequence: number;
}

export function createIcmpProber(options: IcmpProberOptions = {}): IcmpProber {
  const mode = options.socket ?? "auto";
  const channels = new Map<Family, Channel>();
  const buffer = new Uint8Array(2048);
  const from = new Uint8Array(SOCKADDR_MAX);
  let closed = false;

  const channel = (family: Family): Channel => {
    const existing = channels.get(family);
    if (existing !== undefined) return existing;
    const socket = openIcmpSocket(family, options.netns, mode);
    const onLink = family === 6 && socket.kind === "raw" ? openOnLinkSender(options.netns) : undefined;
    if (family === 6 && socket.kind === "datagram")
      options.onRoutedOnly?.("a ping socket (no CAP_NET_RAW) sends no on-link copy");
    if (typeof onLink === "string") options.onRoutedOnly?.(`the on-link copy's sockets: ${onLink}`);
    const created: Channel = {
      socket,
      // Raw sockets share every reply in the namespace: a random identifier tells ours apart.
      identifier: (Math.random() * 0x10000) | 0,
      pending: new Map(),
      watch: watchReadable(socket.fd, () => drain(family)),
      // Without its sockets (no AF_PACKET in this kernel) probes are routed only (onRoutedOnly).
      onLink: typeof onLink === "string" ? undefined : onLink,
      nextSequence: (Math.random() * 0x10000) | 0,
    };
    channels.set(family, created);
    return created;
  };

  const drain = (family: Family) => {
    const ch = channels.get(family);
    if (ch === undefined) return;
    for (;;) {
      const { bytes, addressLength } = recvfrom(ch.socket.fd, buffer, from);
      if (bytes < 0) return; // EAGAIN: drained (any other error: nothing to read either)
      const now = performance.now();
      const echo = decodeEchoReply(
        family,
        buffer.subarray(0, bytes),
        family === 4 && ch.socket.kind === "raw",
      );
      if (echo === undefined) continue;
      // The kernel owns a ping socket's identifier and only hands it its own replies.
      if (ch.socket.kind === "raw" && echo.identifier !== ch.identifier) continue;
      const pending = ch.pending.get(echo.sequence);
      const source = decodeSockaddr(from, addressLength);
      if (pending === undefined || source?.address !== pending.gateway) continue;
      if (pending.scopeId !== 0 && source.scopeId !== pending.scopeId) continue;
      ch.pending.delete(echo.sequence);
      clearTimeout(pending.timer);
      pending.settle({ ok: true, rttMs: now - pending.sentAt });
    }
  };

  return {
    echo(gateway, timeoutMs, dev) {
      if (closed) return Promise.resolve({ ok: false, reason: "closed" });
      if (addressBits(gateway) === undefined) {
        return Promise.reject(new Error(`icmp: gateway is not an IP address: ${JSON.stringify(gateway)}`));
      }
      if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
        return Promise.reject(
          new Error(`icmp: timeoutMs must be a positive number, got ${String(timeoutMs)}`),
        );
      }
      const family = familyOf(gateway);
      let ch: Channel;
      try {
        ch = channel(family);
      } catch (error) {
        return Promise.reject(error);
      }
      const linkLocal = isLinkLocalV6(gateway);
      let ifindex = 0;
      if (dev !== undefined && (linkLocal || ch.onLink !== undefined)) {
        ifindex = deviceIndex(ch.socket.fd, dev);
        // A link-local gateway means nothing without its device; any other is still routed.
        if (ifindex < 0 && linkLocal) return Promise.resolve({ ok: false, reason: errnoName(-ifindex) });
      }
      const scopeId = linkLocal ? ifindex : 0;
      let sequence = ch.nextSequence;
      while (ch.pending.has(sequence)) sequence = (sequence + 1) & 0xffff;
      ch.nextSequence = (sequence + 1) & 0xffff;
      const request = encodeEchoRequest(family, { identifier: ch.identifier, sequence });
      return new Promise<EchoResult>((resolve) => {
        const sentAt = performance.now();
        const rc = sendto(ch.socket.fd, request, encodeSockaddr(gateway, scopeId), onLinkOnly(family));
        // The on-link copy goes second, so the node's conntrack has seen the echo and its
        // reply is no INVALID packet to a firewall. A link-local gateway needs none: its
        // probe already goes out of its device.
        const onLinkSent =
          ch.onLink !== undefined &&
          ifindex > 0 &&
          !linkLocal &&
          ch.onLink.send(gateway, ifindex, request) === undefined;
        if (rc < 0 && !onLinkSent) {
          resolve({ ok: false, reason: rc === -EAGAIN ? "EAGAIN" : errnoName(-rc) });
          return;
        }
        const timer = setTimeout(() => {
          // libuv runs due timers before polling sockets: when the event loop was busy,
          // a reply that arrived in time may still be unread. Read it before giving up.
          drain(family);
          if (!ch.pending.delete(sequence)) return;
          resolve({ ok: false, reason: "timeout" });
        }, timeoutMs);
        ch.pending.set(sequence, { gateway, scopeId, sentAt, timer, settle: resolve });
      });
    },
    socketKind: (family) => channels.get(family)?.socket.kind,
    close() {
      if (closed) return;
      closed = true;
      for (const ch of channels.values()) {
        ch.watch.stop();
        closeFd(ch.socket.fd);
        ch.onLink?.close();
        for (const pending of ch.pending.values()) {
          clearTimeout(pending.timer);
          pending.settle({ ok: false, reason: "closed" });
        }
        ch.pending.clear();
      }
      channels.clear();
    },
  };
}

/**
 * MSG_DONTROUTE for IPv4: the probe goes straight to the gateway on its own link, as
 * a nexthop's packets do, never along a route that names another gateway (a Route
 * whose destination contains this gateway's address would send the probe through its
 * own gateways, and this one would seem dead whenever they are). IPv6 ignores the
 * flag, so none is passed there: its on-link copy does that job.
 */
function onLinkOnly(family: Family): number {
  return family === 4 ? MSG_DONTROUTE : 0;
}

/** fe80::/10: an address that means something only together with its link. */
function isLinkLocalV6(address: IpAddr): boolean {
  const parsed = addressBits(address);
  return parsed?.family === 6 && parsed.bits >> 118n === 0x3fan;
}
