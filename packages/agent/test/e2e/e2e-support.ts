/**
 * End-to-end support: the agent in-process against the Kubernetes API double and a
 * real kernel in a fresh network namespace (a veth eth0 10.0.0.5/24 with the node's
 * original default route via 10.0.0.1, metric 100).
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKubeApiDouble, createNetns, type KubeApiDouble, type Netns } from "@kroute/lab";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach } from "vitest";
import type { Logger } from "../../src/log.ts";
import { type AgentHandle, startAgent } from "../../src/runtime/agent.ts";
import { kubeClusterSources } from "../../src/runtime/kube-sources.ts";
import { parseAgentSettings } from "../../src/settings.ts";
import { quietLogger } from "../runtime/harness.ts";

export const GROUP = "networking.kroute.dev";
export const NODE = "node-a";

export interface World {
  readonly api: KubeApiDouble;
  readonly kc: KubeConfig;
  readonly ns: Netns;
  readonly resolvConf: string;
}

export async function createWorld(labels: Record<string, string> = { pool: "a" }): Promise<World> {
  const api = await createKubeApiDouble({ bookmarkIntervalMs: 200 });
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: NODE, labels } });
  api.apply({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "kubernetes",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "kubernetes" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: ["192.0.2.10"], conditions: { ready: true } }],
    ports: [{ name: "https", port: 6443, protocol: "TCP" }],
  });
  const ns = await createNetns();
  await ns.ipBatch([
    // A veth pair inside the namespace: eth0 has carrier, as a node's uplink does.
    "link add eth0 type veth peer name uplink0",
    "link set uplink0 up",
    "link set eth0 up",
    "addr add 10.0.0.5/24 dev eth0",
    "route add default via 10.0.0.1 dev eth0 metric 100",
  ]);
  const resolvConf = join(tmpdir(), `kroute-e2e-resolv-${ns.name}`);
  writeFileSync(resolvConf, "nameserver 198.51.100.53\nnameserver 127.0.0.53\n");
  return { api, kc, ns, resolvConf };
}

export async function destroyWorld(world: World | undefined): Promise<void> {
  if (world === undefined) return;
  await world.api.close();
  await world.ns.destroy();
}

export async function runAgent(
  world: World,
  extra: readonly string[] = [],
  logger: Logger = quietLogger,
): Promise<AgentHandle> {
  const settings = parseAgentSettings(
    [
      `--netns=${world.ns.name}`,
      "--health-address=127.0.0.1:0",
      "--metrics-address=127.0.0.1:0",
      `--resolv-conf=${world.resolvConf}`,
      "--resync-interval=2s",
      ...extra,
    ],
    { NODE_NAME: NODE },
  );
  return startAgent(settings, {
    cluster: (metrics) =>
      kubeClusterSources(world.kc, settings, metrics, logger, {
        supervisor: {
          backoff: { initialMs: 50, maxMs: 300, jitter: 0 },
          stallTimeoutMs: 1500,
          relistSpreadMs: 200,
          rewatchSpreadMs: 200,
        },
        statusJitterMs: 0,
        tableMinIntervalMs: 100,
      }),
    // Gateways here are addresses behind a veth with nothing on the other end: nothing answers. Probing is the
    // health helper's own end-to-end subject; these tests trust the gateways.
    probe: () => Promise.resolve({ ok: true as const, rttMs: 1 }),
    logger,
  });
}

/** The world of each test of a describe block (worldPerTest), and the agent a test runs in it. */
export interface WorldPerTest {
  /** The running test's world. */
  readonly world: () => World;
  /**
   * Starts the agent in the running test's world; one already running is stopped first
   * (a restart). Whatever runs at the test's end is stopped then.
   */
  readonly startAgent: (extra?: readonly string[], logger?: Logger) => Promise<AgentHandle>;
}

/**
 * A fresh world for each test of the calling describe block, `prepare`d, and torn down
 * after the test with the agent it ran: no test sees another's namespace or API objects.
 */
export function worldPerTest(prepare?: (world: World) => Promise<void> | void): WorldPerTest {
  let world: World | undefined;
  let agent: AgentHandle | undefined;
  beforeEach(async () => {
    world = await createWorld();
    await prepare?.(world);
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    await destroyWorld(world);
    world = undefined;
  });
  const current = (): World => {
    if (world === undefined) throw new Error("no world: worldPerTest's world exists only while a test runs");
    return world;
  };
  return {
    world: current,
    async startAgent(extra = [], logger = quietLogger) {
      await agent?.stop();
      agent = await runAgent(current(), extra, logger);
      return agent;
    },
  };
}

export function route(
  name: string,
  spec: Record<string, unknown>,
  created?: string,
): Record<string, unknown> {
  return {
    apiVersion: `${GROUP}/v1alpha1`,
    kind: "Route",
    metadata: { name, ...(created !== undefined ? { creationTimestamp: created } : {}) },
    spec,
  };
}

/** A gateway of the other family (RTA_VIA: an IPv4 route via an IPv6 next hop), as `ip -j` shows it. */
interface IpVia {
  family: string;
  host: string;
}

function gatewayOf(hop: { gateway?: string; via?: IpVia }): string | undefined {
  return hop.gateway ?? hop.via?.host;
}

interface IpRoute {
  dst: string;
  table?: string;
  gateway?: string;
  via?: IpVia;
  nhid?: number;
  nexthops?: { gateway?: string; via?: IpVia }[];
  protocol?: string;
}

interface IpNexthop {
  id: number;
  gateway?: string;
  group?: { id: number }[];
}

/**
 * kroute's routes in the namespace as `ip` sees them: "table dst" → sorted gateways. `ip`
 * calls both families' default routes "default"; the IPv6 one is "::/0" here.
 */
export async function kernelRoutes(ns: Netns, protocol = 201): Promise<Record<string, string[]>> {
  const proto = String(protocol);
  const routes = [
    ...(await ns.ipJson<IpRoute[]>("-4", "route", "show", "table", "all", "proto", proto)),
    ...(await ns.ipJson<IpRoute[]>("-6", "route", "show", "table", "all", "proto", proto)).map((r) =>
      r.dst === "default" ? { ...r, dst: "::/0" } : r,
    ),
  ];
  const nexthops = await ns.ipJson<IpNexthop[]>("nexthop", "show");
  const byId = new Map(nexthops.map((n) => [n.id, n]));
  const resolve = (id: number): string[] => {
    const nh = byId.get(id);
    if (nh === undefined) return [`missing nexthop ${id}`];
    if (nh.group !== undefined) return nh.group.flatMap((m) => resolve(m.id));
    return nh.gateway !== undefined ? [nh.gateway] : [];
  };
  const out: Record<string, string[]> = {};
  for (const r of routes) {
    const gateways =
      r.nhid !== undefined ? resolve(r.nhid) : (r.nexthops ?? [r]).flatMap((hop) => gatewayOf(hop) ?? []);
    out[`${r.table ?? "main"} ${r.dst}`] = gateways.sort();
  }
  return out;
}

/** The gateway `ip route get` picks for a destination (and source), or the device when on-link. */
export async function routeGet(ns: Netns, dst: string, from?: string): Promise<string> {
  const args = ["route", "get", dst, ...(from !== undefined ? ["from", from] : [])];
  const [hop] = await ns.ipJson<{ gateway?: string; via?: IpVia; dev: string }[]>(...args);
  return (hop !== undefined ? gatewayOf(hop) : undefined) ?? `dev ${hop?.dev}`;
}

/**
 * Polls `check` until it passes. The bound only stops a hang (it returns as soon as the
 * check passes, so it costs nothing when things work): on a loaded 2-core runner what
 * takes a moment alone can take many seconds. A time that is a requirement is measured
 * in the test, not by this bound.
 */
export async function eventually(check: () => Promise<void> | void, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
