/**
 * The cluster-in-a-box scenario as data: who the nodes are, the host facts each agent
 * will observe, and the same story as engine events (for the run on fake kernels, and
 * as the prediction the real run is checked against).
 */
import type { EngineEvent, IpAddr, Prefix, RouteObject } from "@kroute/core";
import { POOL_LABEL } from "./routes.ts";
import { gatewayAddress, nodeAddress, POOLS } from "./topology.ts";

export const ROUTER = "10.114.0.1";
/** The API server endpoint the EndpointSlice names (protected under an override). */
export const API_SERVER = "198.18.100.6";
/** The nodes' resolver, from the resolv.conf each agent reads (protected under an override). */
export const DNS = "198.18.100.53";
export const METADATA = "169.254.169.254";

export interface ScenarioNode {
  readonly name: string;
  readonly address: string;
  readonly pool: string;
}

export interface Scenario {
  readonly nodes: readonly ScenarioNode[];
  readonly gateways: readonly string[];
  readonly routes: readonly RouteObject[];
}

export function scenario(nodeCount: number, gatewayCount: number, routes: readonly RouteObject[]): Scenario {
  return {
    nodes: Array.from({ length: nodeCount }, (_, i) => ({
      name: `node-${i + 1}`,
      address: nodeAddress(i + 1),
      pool: POOLS[i % POOLS.length] as string,
    })),
    gateways: Array.from({ length: gatewayCount }, (_, i) => gatewayAddress(i + 1)),
    routes,
  };
}

export function nodeLabels(node: ScenarioNode): Record<string, string> {
  return { [POOL_LABEL]: node.pool, "kubernetes.io/hostname": node.name };
}

const START = Date.UTC(2026, 0, 1, 12);

/** Event streams per phase: setup (all gateways answer), gateway 1 fails, gateway 1 recovers. */
export function scenarioEvents(s: Scenario): {
  setup: EngineEvent[];
  fail: EngineEvent[];
  recover: EngineEvent[];
} {
  let seq = 0;
  const envelope = () => {
    seq++;
    return { v: 1 as const, seq, at: new Date(START + seq * 100).toISOString() };
  };
  const setup: EngineEvent[] = [];
  for (const node of s.nodes) {
    setup.push({ ...envelope(), type: "node/observed", node: node.name, labels: nodeLabels(node) });
    setup.push({
      ...envelope(),
      type: "host/observed",
      node: node.name,
      defaultGateways: [{ via: ROUTER as IpAddr, dev: "eth0", metric: 100 }],
      addresses: [{ ip: node.address as IpAddr, dev: "eth0", prefixLength: 20 }],
      dns: [DNS as IpAddr],
      apiServers: [API_SERVER as IpAddr],
      protect: [`${METADATA}/32` as Prefix],
    });
  }
  setup.push({ ...envelope(), type: "route/resynced", routes: [...s.routes] });
  const probes = (gateway: string, up: boolean): EngineEvent[] =>
    s.nodes.map((node) => ({
      ...envelope(),
      type: "probe/result" as const,
      node: node.name,
      gateway: gateway as IpAddr,
      up,
      ...(up ? { rttMs: 0.1 } : {}),
    }));
  for (const gateway of s.gateways) setup.push(...probes(gateway, true));
  const first = s.gateways[0] as string;
  return { setup, fail: probes(first, false), recover: probes(first, true) };
}
