/**
 * Synthetic event logs: node pools on one flat VPC network, Routes each selecting a
 * pool, Route churn, nodes moving between pools and gateway flaps. Everything comes
 * from the seeded PRNG and the arguments, timestamps from the sequence number, so the
 * same arguments always give the same bytes.
 */
import { networkPrefix } from "@kroute/core";
import { createPrng, type Prng } from "./prng.ts";

export interface GenerateOptions {
  readonly nodes: number;
  readonly routes: number;
  readonly events: number;
  readonly seed: number;
  /** Default min(10, nodes). */
  readonly pools?: number;
}

export const POOL_LABEL = "doks.digitalocean.com/node-pool";
const GATEWAYS_PER_POOL = 4;
const MAX_POOLS = 60;
const NODES_PER_OCTET = 250;
const MAX_NODES = NODES_PER_OCTET * 200;
const START_MS = Date.UTC(2026, 0, 1);
const STEP_MS = 10;

/** Relative weights of the churn that follows the bootstrap. */
const CHURN_WEIGHTS = {
  probe: 88,
  routeUpdate: 2,
  routeDelete: 0.5,
  routeCreate: 0.5,
  labelMove: 4,
  hostRefresh: 5,
} as const;
type ChurnKind = keyof typeof CHURN_WEIGHTS;

export function bootstrapEventCount(options: Pick<GenerateOptions, "nodes" | "routes">): number {
  return options.nodes * 2 + 1;
}

/** Checks the arguments; returns an error naming the flag and value, or undefined. */
export function checkGenerateOptions(options: GenerateOptions): string | undefined {
  const integer = (name: string, value: number, min: number, max: number): string | undefined =>
    Number.isInteger(value) && value >= min && value <= max
      ? undefined
      : `--${name} must be an integer in ${min}..${max}, got ${value}`;
  return (
    integer("nodes", options.nodes, 1, MAX_NODES) ??
    integer("routes", options.routes, 0, 1_000_000) ??
    integer("seed", options.seed, 0, 0xffffffff) ??
    integer("pools", options.pools ?? 1, 1, Math.min(MAX_POOLS, options.nodes)) ??
    integer("events", options.events, bootstrapEventCount(options), 100_000_000)
  );
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function poolName(pool: number): string {
  return `pool-${pad(pool, 2)}`;
}

function gatewayV4(pool: number, k: number): string {
  return `10.114.255.${pool * GATEWAYS_PER_POOL + k + 1}`;
}

function gatewayV6(pool: number, k: number): string {
  return `fd00:114::ff:${(pool * GATEWAYS_PER_POOL + k + 1).toString(16)}`;
}

function nodeV4(index: number): string {
  return `10.114.${1 + Math.floor(index / NODES_PER_OCTET)}.${(index % NODES_PER_OCTET) + 1}`;
}

function nodeV6(index: number): string {
  return `fd00:114::${(index + 0x100).toString(16)}`;
}

interface LiveRoute {
  readonly name: string;
  generation: number;
  readonly createdAt: string;
  readonly pool: number;
  /** Gateway indices within the pool. */
  gateways: number[];
  destinations: string[];
  readonly v6: boolean;
}

function randomDestination(prng: Prng, v6: boolean): string {
  if (v6) return `fd10:${prng.int(0x10000).toString(16)}:${prng.int(0x10000).toString(16)}::/48`;
  // 100.64.0.0/10 (carrier-grade NAT space), lengths 16..28.
  const length = 16 + prng.int(13);
  const bits = (0x64400000 | (prng.int(0x400000) << 0)) >>> 0;
  return networkPrefix({ family: 4, bits }, length);
}

function randomGatewaySet(prng: Prng): number[] {
  const count = 1 + prng.int(3);
  const all = [0, 1, 2, 3];
  for (let i = all.length - 1; i > 0; i--) {
    const j = prng.int(i + 1);
    [all[i], all[j]] = [all[j] as number, all[i] as number];
  }
  return all.slice(0, count);
}

/** Yields the log's lines (without newlines). */
export function* generateLog(options: GenerateOptions): Generator<string> {
  const problem = checkGenerateOptions(options);
  if (problem !== undefined) throw new Error(problem);
  const prng = createPrng(options.seed);
  const pools = options.pools ?? Math.min(10, options.nodes);
  const nodeWidth = String(options.nodes - 1).length;
  const routeWidth = Math.max(5, String(options.routes).length);
  let seq = 0;
  const line = (type: string, body: Record<string, unknown>): string => {
    seq++;
    const at = new Date(START_MS + seq * STEP_MS).toISOString();
    return JSON.stringify({ v: 1, seq, at, type, ...body });
  };
  const nodeName = (i: number): string => `node-${pad(i, nodeWidth)}`;
  const nodePool: number[] = [];
  for (let i = 0; i < options.nodes; i++) nodePool.push(i % pools);

  const nodeObserved = (i: number): string =>
    line("node/observed", {
      node: nodeName(i),
      labels: { [POOL_LABEL]: poolName(nodePool[i] as number), "kubernetes.io/hostname": nodeName(i) },
    });
  const hostObserved = (i: number): string =>
    line("host/observed", {
      node: nodeName(i),
      defaultGateways: [{ via: "10.114.0.1", dev: "eth0", metric: 100 }],
      addresses: [
        { ip: nodeV4(i), dev: "eth0", prefixLength: 16 },
        { ip: nodeV6(i), dev: "eth0", prefixLength: 64 },
      ],
      dns: ["67.207.67.2", "67.207.67.3"],
      apiServers: ["203.0.113.10"],
      protect: ["169.254.169.254/32"],
    });

  const live: LiveRoute[] = [];
  let created = 0;
  const newRoute = (at: string): LiveRoute => {
    const index = created++;
    const pool = index % pools;
    const v6 = prng.chance(0.1);
    // The first Route of each pool overrides the default route (SPEC §3 item 5).
    const override = index < pools;
    const destinations = override
      ? [v6 ? "::/0" : "0.0.0.0/0"]
      : Array.from({ length: 1 + prng.int(4) }, () => randomDestination(prng, v6));
    return {
      name: `route-${pad(index, routeWidth)}`,
      generation: 1,
      createdAt: at,
      pool,
      gateways: override ? [0, 1] : randomGatewaySet(prng),
      destinations,
      v6,
    };
  };
  const routeObject = (route: LiveRoute) => ({
    apiVersion: "networking.kroute.dev/v1alpha1",
    kind: "Route",
    metadata: { name: route.name, generation: route.generation, creationTimestamp: route.createdAt },
    spec: {
      destinations: route.destinations,
      gateways: route.gateways.map((k) => (route.v6 ? gatewayV6(route.pool, k) : gatewayV4(route.pool, k))),
      nodeSelector: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: POOL_LABEL, operator: "In", values: [poolName(route.pool)] }] },
        ],
      },
    },
  });
  const upserted = (route: LiveRoute): string => line("route/upserted", { route: routeObject(route) });

  for (let i = 0; i < options.nodes; i++) {
    yield nodeObserved(i);
    yield hostObserved(i);
  }
  // The agents' initial list: one snapshot, after which stale routes may be pruned.
  const bootAt = new Date(START_MS).toISOString();
  for (let r = 0; r < options.routes; r++) live.push(newRoute(bootAt));
  yield line("route/resynced", { routes: live.map(routeObject) });

  // Probe state per node and gateway (index pool*4+k, v4 and v6 share it): all start up.
  const gatewayDown = new Uint8Array(options.nodes * pools * GATEWAYS_PER_POOL);
  const kinds = Object.keys(CHURN_WEIGHTS) as ChurnKind[];
  const total = kinds.reduce((sum, k) => sum + CHURN_WEIGHTS[k], 0);
  const pickKind = (): ChurnKind => {
    let x = prng.next() * total;
    for (const k of kinds) {
      x -= CHURN_WEIGHTS[k];
      if (x < 0) return k;
    }
    return "probe";
  };

  while (seq < options.events) {
    const kind = pickKind();
    switch (kind) {
      case "probe": {
        const node = prng.int(options.nodes);
        const pool = nodePool[node] as number;
        const k = prng.int(GATEWAYS_PER_POOL);
        const slot = (node * pools + pool) * GATEWAYS_PER_POOL + k;
        // Mostly flips; sometimes a repeat of the same state, as a steady prober sends.
        const up = prng.chance(0.2) ? gatewayDown[slot] === 0 : gatewayDown[slot] === 1;
        gatewayDown[slot] = up ? 0 : 1;
        const v6 = prng.chance(0.1);
        yield line("probe/result", {
          node: nodeName(node),
          gateway: v6 ? gatewayV6(pool, k) : gatewayV4(pool, k),
          up,
          ...(up ? { rttMs: (100 + prng.int(2000)) / 100 } : {}),
        });
        break;
      }
      case "routeUpdate": {
        if (live.length === 0) break;
        const route = prng.pick(live);
        route.generation++;
        if (prng.chance(0.5)) route.gateways = randomGatewaySet(prng);
        else if (!route.destinations.some((d) => d.endsWith("/0"))) {
          route.destinations = Array.from({ length: 1 + prng.int(4) }, () =>
            randomDestination(prng, route.v6),
          );
        }
        yield upserted(route);
        break;
      }
      case "routeDelete": {
        if (live.length === 0) break;
        const index = prng.int(live.length);
        const [route] = live.splice(index, 1);
        if (route !== undefined) yield line("route/deleted", { name: route.name });
        break;
      }
      case "routeCreate": {
        const at = new Date(START_MS + (seq + 1) * STEP_MS).toISOString();
        const route = newRoute(at);
        live.push(route);
        yield upserted(route);
        break;
      }
      case "labelMove": {
        // Into another pool: a relabel to the same one moves nothing (with one pool, none can move).
        if (pools === 1) break;
        const node = prng.int(options.nodes);
        nodePool[node] = ((nodePool[node] as number) + 1 + prng.int(pools - 1)) % pools;
        yield nodeObserved(node);
        break;
      }
      case "hostRefresh": {
        // Agents re-read host facts periodically; an unchanged fact must cause no ops.
        yield hostObserved(prng.int(options.nodes));
        break;
      }
      default: {
        const unreachable: never = kind;
        throw new Error(`unknown churn kind ${String(unreachable)}`);
      }
    }
  }
}
