/**
 * The cluster in a box, in network namespaces (IPv4; every address in documentation
 * or benchmarking ranges, and nothing links the namespaces to the host's network):
 *
 *   node-1 ─┐                    ┌─ router (10.114.0.1: the nodes' original default gateway, no NAT)
 *   node-2 ─┼─ lan (bridge br0) ─┼─ gw-1 (10.114.0.3, masquerades) ─┐
 *   …      ─┘   10.114.0.0/20    ├─ gw-2 (10.114.0.4, masquerades) ─┼─ internet (echo servers)
 *                                └─ …                               ┘
 *
 * The internet namespace answers on 203.0.113.10, 198.51.100.10 and 192.0.2.10 and
 * routes the nodes' network back through the router, so a flow that leaves through
 * the router shows the node's own address, and one through a gateway shows that
 * gateway's WAN address: the static egress IP.
 */
import { dropEverything, masqueradeVia, type Netns, stopDropping } from "@kroute/lab";

export interface ClusterNode {
  readonly name: string;
  readonly ns: Netns;
  readonly address: string;
  readonly pool: string;
}

export interface ClusterGateway {
  readonly index: number;
  readonly ns: Netns;
  /** On the LAN: what Routes name. */
  readonly address: string;
  /** Source address the internet sees for flows it masquerades. */
  readonly wan: string;
}

export interface ClusterTopology {
  readonly nodes: readonly ClusterNode[];
  readonly gateways: readonly ClusterGateway[];
  readonly router: Netns;
  readonly internet: Netns;
  readonly routerAddress: string;
  /** Every namespace created, for teardown (also synchronous, from exit handlers). */
  readonly namespaces: readonly string[];
  kill(gateway: number): Promise<void>;
  recover(gateway: number): Promise<void>;
  destroy(): Promise<void>;
}

export const ECHO = { basic: "203.0.113.10", single: "198.51.100.10", internet: "192.0.2.10" } as const;
export const ECHO_PORT = 7007;
export const POOLS = ["worker-pool", "infra-pool"] as const;

/** Gateways are 10.114.0.3 up, nodes 10.114.0.20 up: at most this many gateways fit between. */
export const MAX_GATEWAYS = 17;
export const MAX_NODES = 200;

export function gatewayAddress(index: number): string {
  return `10.114.0.${2 + index}`;
}

export function nodeAddress(index: number): string {
  return `10.114.0.${19 + index}`;
}

async function sysctl(ns: Netns, ...settings: string[]): Promise<void> {
  await ns.exec("sysctl", ["-q", "-w", ...settings]);
}

export async function createClusterTopology(
  nodeCount: number,
  gatewayCount: number,
  createNetns: (prefix: string, onNamed: (name: string) => void) => Promise<Netns>,
  onNamed: (name: string) => void,
): Promise<ClusterTopology> {
  const created: Netns[] = [];
  const make = async (prefix: string): Promise<Netns> => {
    const ns = await createNetns(prefix, onNamed);
    created.push(ns);
    return ns;
  };
  const lan = await make("kr-lan");
  const internet = await make("kr-inet");
  const router = await make("kr-rtr");
  await lan.ipBatch(["link add br0 type bridge", "link set br0 up"]);
  const attach = async (ns: Netns, dev: string, port: string, address: string): Promise<void> => {
    await ns.ipBatch([
      `link add ${dev} type veth peer name ${port} netns ${lan.name}`,
      `addr add ${address}/20 dev ${dev}`,
      `link set ${dev} up`,
    ]);
    await lan.ipBatch([`link set ${port} master br0`, `link set ${port} up`]);
  };
  const uplink = async (ns: Netns, port: string, side: string, far: string): Promise<void> => {
    await ns.ipBatch([
      `link add wan type veth peer name ${port} netns ${internet.name}`,
      `addr add ${side}/30 dev wan`,
      "link set wan up",
      `route add default via ${far}`,
    ]);
    await internet.ipBatch([`addr add ${far}/30 dev ${port}`, `link set ${port} up`]);
  };

  await internet.ipBatch([
    `addr add ${ECHO.basic}/32 dev lo`,
    `addr add ${ECHO.single}/32 dev lo`,
    `addr add ${ECHO.internet}/32 dev lo`,
  ]);
  const routerAddress = "10.114.0.1";
  await attach(router, "lan", "rtr", routerAddress);
  await uplink(router, "inet-rtr", "198.18.0.1", "198.18.0.2");
  await sysctl(router, "net.ipv4.ip_forward=1");
  await internet.ip("route", "add", "10.114.0.0/20", "via", "198.18.0.1");

  const gateways: ClusterGateway[] = [];
  for (let i = 1; i <= gatewayCount; i++) {
    const ns = await make(`kr-gw${i}`);
    await attach(ns, "lan", `gw${i}`, gatewayAddress(i));
    await uplink(ns, `inet-gw${i}`, `198.18.${i}.1`, `198.18.${i}.2`);
    await sysctl(ns, "net.ipv4.ip_forward=1");
    await masqueradeVia(ns, "wan");
    gateways.push({ index: i, ns, address: gatewayAddress(i), wan: `198.18.${i}.1` });
  }

  const nodes: ClusterNode[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    const ns = await make(`kr-node${i}`);
    const address = nodeAddress(i);
    await attach(ns, "eth0", `node${i}`, address);
    // Metric 100, as DHCP clients install it: kroute's override (metric 50) goes in front of it.
    await ns.ip("route", "add", "default", "via", routerAddress, "dev", "eth0", "metric", "100");
    nodes.push({ name: `node-${i}`, ns, address, pool: POOLS[(i - 1) % POOLS.length] as string });
  }
  // Resolve neighbours once so that the first probes and flows are not lost to ARP.
  await Promise.all(
    nodes.flatMap((n) =>
      [routerAddress, ...gateways.map((g) => g.address)].map((a) =>
        n.ns.exec("ping", ["-c", "1", "-W", "2", "-q", a]).catch(() => undefined),
      ),
    ),
  );

  const gatewayAt = (index: number): ClusterGateway => {
    const gateway = gateways[index - 1];
    if (gateway === undefined) throw new Error(`no gateway ${index} (have 1..${gateways.length})`);
    return gateway;
  };
  return {
    nodes,
    gateways,
    router,
    internet,
    routerAddress,
    namespaces: created.map((ns) => ns.name),
    async kill(index) {
      // Drops every packet at the gateway while its link stays up: the failure neighbour tracking misses.
      await dropEverything(gatewayAt(index).ns);
    },
    async recover(index) {
      await stopDropping(gatewayAt(index).ns);
    },
    async destroy() {
      await Promise.all(created.map((ns) => ns.destroy()));
    },
  };
}
