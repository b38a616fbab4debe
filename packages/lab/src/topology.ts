/**
 * The gateway test topology of issue 5, built from fresh network namespaces:
 *
 *   node ──┐                  ┌── gw1 ──┐
 *          ├── lan (bridge) ──┼── gw2 ──┼── dst (holds the destination network)
 *          │                  ├── gw3 ──┤
 *          │                  └── gw4 ──┘
 *
 * The node namespace is where an agent (or a benchmark) runs; it has one link,
 * `eth0`, on the bridge. Each gateway has `lan` on the bridge and its own point-to-point
 * `wan` link to the destination namespace, forwards (IPv4 and IPv6) and masquerades
 * out of `wan`, so the destination answers whichever gateway a packet went through.
 * The destination address lives on `dst`'s loopback (this kernel may lack the dummy
 * link type).
 *
 * Every address is from the documentation ranges (RFC 5737, RFC 3849): no traffic
 * can leave the namespaces towards anything real.
 *
 * A gateway "dies" by dropping every IP packet it receives, forwards or sends
 * (nftables), its link staying up and its neighbour entries valid: exactly the failure
 * the kernel's own neighbour tracking is slow to notice.
 */
import type { IpAddr, Prefix } from "@kroute/core";
import { createNetnsWithoutDad, type Netns } from "./netns.ts";
import { dropEverything, dropEverythingFrom, masqueradeVia, stopDropping } from "./nftables.ts";

export interface TopologyGateway {
  /** 1-based index, as in `gw1`. */
  readonly index: number;
  readonly ns: Netns;
  /** The gateway's addresses on the shared LAN: what routes name as `via`. */
  readonly v4: IpAddr;
  readonly v6: IpAddr;
  /** Source address the destination sees for traffic masqueraded by this gateway. */
  readonly wanV4: IpAddr;
  readonly wanV6: IpAddr;
}

export interface Topology {
  readonly node: Netns;
  /** The node's link on the LAN. */
  readonly nodeDev: string;
  readonly nodeV4: IpAddr;
  readonly nodeV6: IpAddr;
  readonly lan: Netns;
  readonly gateways: readonly TopologyGateway[];
  readonly dst: Netns;
  /** The destination network and one address in it that answers pings. */
  readonly destinationV4: Prefix;
  readonly destinationV6: Prefix;
  readonly targetV4: IpAddr;
  readonly targetV6: IpAddr;
  /** Drops all IP traffic at the gateway (its link stays up). Idempotent. */
  kill(index: number): Promise<void>;
  /**
   * Kills gateway `index` from `atMs` on (ms since the epoch, a whole second), by the
   * kernel's clock: for measuring from the instant of the failure. Given `untilMs` (a
   * whole second too), it answers again from then, for measuring from the instant of
   * the recovery; it counts as killed until recover() removes the rule. Idempotent.
   */
  killAt(index: number, atMs: number, untilMs?: number): Promise<void>;
  /** Removes the drop. Idempotent. */
  recover(index: number): Promise<void>;
  isKilled(index: number): boolean;
  /** Destroys every namespace of the topology. Idempotent. */
  destroy(): Promise<void>;
}

export interface TopologyOptions {
  /** Number of gateways; default 4. */
  readonly gateways?: number;
}

const ip = (text: string) => text as IpAddr;

/** Addresses of gateway `i` (1-based). */
function gatewayAddresses(i: number) {
  return {
    v4: ip(`192.0.2.${10 + i}`),
    v6: ip(`2001:db8:0:1::${10 + i}`),
    // One /30 per gateway: .4i+1 on the gateway, .4i+2 in dst.
    wanV4: ip(`203.0.113.${4 * i + 1}`),
    dstSideV4: `203.0.113.${4 * i + 2}`,
    wanV6: ip(`2001:db8:0:2${i}::1`),
    dstSideV6: `2001:db8:0:2${i}::2`,
  };
}

export async function createTopology(options: TopologyOptions = {}): Promise<Topology> {
  const count = options.gateways ?? 4;
  if (!Number.isInteger(count) || count < 1 || count > 16) {
    throw new Error(`createTopology: gateways must be an integer in 1..16, got ${String(count)}`);
  }
  const created: Netns[] = [];
  const make = async (prefix: string) => {
    const ns = await createNetnsWithoutDad(prefix);
    created.push(ns);
    return ns;
  };
  try {
    const [node, lan, dst] = [await make("kr-node"), await make("kr-lan"), await make("kr-dst")];
    const gatewayNs: Netns[] = [];
    for (let i = 1; i <= count; i++) gatewayNs.push(await make(`kr-gw${i}`));

    await lan.ipBatch(["link add br0 type bridge", "link set br0 up"]);
    await node.ipBatch([
      `link add eth0 type veth peer name node netns ${lan.name}`,
      "addr add 192.0.2.2/24 dev eth0",
      "addr add 2001:db8:0:1::2/64 dev eth0 nodad",
      "link set eth0 up",
    ]);
    await lan.ipBatch(["link set node master br0", "link set node up"]);

    await dst.ipBatch(["addr add 198.51.100.1/32 dev lo", "addr add 2001:db8:100::1/128 dev lo nodad"]);

    const gateways: TopologyGateway[] = [];
    for (const [offset, ns] of gatewayNs.entries()) {
      const i = offset + 1;
      const a = gatewayAddresses(i);
      await ns.ipBatch([
        `link add lan type veth peer name gw${i} netns ${lan.name}`,
        `addr add ${a.v4}/24 dev lan`,
        `addr add ${a.v6}/64 dev lan nodad`,
        "link set lan up",
        `link add wan type veth peer name gw${i} netns ${dst.name}`,
        `addr add ${a.wanV4}/30 dev wan`,
        `addr add ${a.wanV6}/64 dev wan nodad`,
        "link set wan up",
        `route add 198.51.100.0/24 via ${a.dstSideV4}`,
        `route add 2001:db8:100::/64 via ${a.dstSideV6}`,
      ]);
      await lan.ipBatch([`link set gw${i} master br0`, `link set gw${i} up`]);
      await dst.ipBatch([
        `addr add ${a.dstSideV4}/30 dev gw${i}`,
        `addr add ${a.dstSideV6}/64 dev gw${i} nodad`,
        `link set gw${i} up`,
      ]);
      await ns.exec("sysctl", ["-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
      await masqueradeVia(ns, "wan");
      gateways.push({ index: i, ns, v4: a.v4, v6: a.v6, wanV4: a.wanV4, wanV6: a.wanV6 });
    }

    // Resolve every neighbour once now: a first IPv6 neighbour solicitation is
    // occasionally lost on fresh veths, which would cost a test a second later on.
    await Promise.all(
      gateways.flatMap((g) => [
        g.ns.exec("ping", ["-c", "1", "-W", "3", "-q", "198.51.100.1"]),
        g.ns.exec("ping", ["-c", "1", "-W", "3", "-q", "2001:db8:100::1"]),
        node.exec("ping", ["-c", "1", "-W", "3", "-q", g.v4]),
        node.exec("ping", ["-c", "1", "-W", "3", "-q", g.v6]),
      ]),
    );

    const killed = new Set<number>();
    const gatewayAt = (index: number): TopologyGateway => {
      const gateway = gateways[index - 1];
      if (gateway === undefined)
        throw new Error(`topology: no gateway ${String(index)} (have 1..${String(count)})`);
      return gateway;
    };
    let destroyed = false;
    return {
      node,
      nodeDev: "eth0",
      nodeV4: ip("192.0.2.2"),
      nodeV6: ip("2001:db8:0:1::2"),
      lan,
      gateways,
      dst,
      destinationV4: "198.51.100.0/24" as Prefix,
      destinationV6: "2001:db8:100::/64" as Prefix,
      targetV4: ip("198.51.100.1"),
      targetV6: ip("2001:db8:100::1"),
      async kill(index) {
        const gateway = gatewayAt(index);
        if (killed.has(index)) return;
        await dropEverything(gateway.ns);
        killed.add(index);
      },
      async killAt(index, atMs, untilMs) {
        const gateway = gatewayAt(index);
        if (killed.has(index)) return;
        await dropEverythingFrom(gateway.ns, atMs, untilMs);
        killed.add(index);
      },
      async recover(index) {
        const gateway = gatewayAt(index);
        if (!killed.has(index)) return;
        await stopDropping(gateway.ns);
        killed.delete(index);
      },
      isKilled: (index) => killed.has(index),
      async destroy() {
        if (destroyed) return;
        destroyed = true;
        await Promise.all(created.map((ns) => ns.destroy()));
      },
    };
  } catch (error) {
    await Promise.all(created.map((ns) => ns.destroy()));
    throw error;
  }
}
