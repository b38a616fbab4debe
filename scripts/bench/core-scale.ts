/**
 * `pnpm bench core-scale`: is the core incremental? The median cost of one Route
 * update through reduce (which maintains the desired table) and plan (the diff of
 * what changed) plus that Route's outcome, with 10,000 Routes in state (1 to 20
 * destinations each), against the same with 100 Routes. The ratio must stay ≤ 3.
 *
 * Both states start converged (the kernel holds exactly the desired table), so the
 * measured ops are the update's own. Inputs come from a seeded generator: every run
 * measures the same work.
 */
import {
  DEFAULT_SETTINGS,
  desiredTable,
  type EngineEvent,
  type EventBody,
  initialNodeState,
  type NodeState,
  plan,
  type RouteObject,
  reduce,
  routeOutcome,
} from "../../packages/core/src/index.ts";

const NODE = "bench-node";
const LARGE = 10_000;
const SMALL = 100;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 400);

/** Park-Miller: deterministic inputs without Math.random. */
function generator(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 48271) % 2147483647;
    return state / 2147483647;
  };
}

let seq = 0;
function event(body: EventBody): EngineEvent {
  seq += 1;
  return { v: 1, seq, at: new Date(Date.UTC(2026, 0, 1) + seq).toISOString(), ...body } as EngineEvent;
}

const GATEWAYS = Array.from({ length: 16 }, (_, i) => `10.114.0.${i + 2}`);

function randomRoute(name: string, random: () => number, version = 1): RouteObject {
  const count = 1 + Math.floor(random() * 20);
  const destinations = Array.from({ length: count }, () => {
    const a = Math.floor(random() * 200) + 20;
    return `${a}.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.0/24`;
  });
  const gatewayCount = 1 + Math.floor(random() * 3);
  const gateways = Array.from(
    { length: gatewayCount },
    () => GATEWAYS[Math.floor(random() * GATEWAYS.length)],
  );
  return {
    metadata: {
      name,
      generation: version,
      creationTimestamp: `2025-01-01T00:00:${String(version % 60).padStart(2, "0")}Z`,
    },
    spec: { destinations, gateways: [...new Set(gateways)] },
  };
}

function convergedState(routes: number): NodeState {
  const random = generator(42);
  let state = initialNodeState(NODE, DEFAULT_SETTINGS);
  state = reduce(state, event({ type: "node/observed", node: NODE, labels: {} }));
  state = reduce(
    state,
    event({
      type: "host/observed",
      node: NODE,
      defaultGateways: [{ via: "10.0.0.1" as never, dev: "eth0", metric: 100 }],
      addresses: [{ ip: "10.114.0.10" as never, dev: "eth1", prefixLength: 20 }],
      dns: [],
      apiServers: [],
      protect: [],
    }),
  );
  const objects = Array.from({ length: routes }, (_, i) => randomRoute(`route-${i}`, random));
  state = reduce(state, event({ type: "route/resynced", routes: objects }));
  const table = desiredTable(state);
  state = reduce(
    state,
    event({
      type: "kernel/observed",
      node: NODE,
      snapshot: {
        routes: table.routes,
        nexthops: table.nexthops,
        rules: table.rules,
        links: [],
        addresses: [],
        complete: true,
      },
    }),
  );
  if (plan(state).length !== 0) throw new Error("bench setup: the converged state still has ops to apply");
  return state;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Median microseconds of one Route update (reduce + plan + its outcome) from the same converged state. */
function measure(state: NodeState, routes: number): { us: number; ops: number } {
  const random = generator(7);
  const updates = Array.from({ length: SAMPLES }, (_, i) => {
    const name = `route-${Math.floor(random() * routes)}`;
    return event({ type: "route/upserted", route: randomRoute(name, random, 2 + i) });
  });
  const times: number[] = [];
  let ops = 0;
  for (let round = 0; round < 2; round++) {
    times.length = 0;
    for (const update of updates) {
      const start = process.hrtime.bigint();
      const next = reduce(state, update);
      ops += plan(next).length;
      routeOutcome(next, update.type === "route/upserted" ? update.route.metadata.name : "");
      times.push(Number(process.hrtime.bigint() - start) / 1000);
    }
  }
  return { us: median(times), ops: ops / (2 * SAMPLES) };
}

const setupStart = Date.now();
const small = convergedState(SMALL);
const large = convergedState(LARGE);
console.log(`setup: ${SMALL} and ${LARGE} Routes converged in ${Date.now() - setupStart} ms`);
// Interleave so that both sizes see the same machine conditions.
const smallFirst = measure(small, SMALL);
const largeResult = measure(large, LARGE);
const smallResult = measure(small, SMALL);
const smallUs = Math.min(smallFirst.us, smallResult.us);
console.log(
  `${SMALL} Routes: median ${smallUs.toFixed(1)} µs per update (${smallResult.ops.toFixed(1)} ops on average)`,
);
console.log(
  `${LARGE} Routes: median ${largeResult.us.toFixed(1)} µs per update (${largeResult.ops.toFixed(1)} ops on average)`,
);
const ratio = largeResult.us / smallUs;
console.log(
  JSON.stringify({
    bench: "core-scale",
    small_us: Number(smallUs.toFixed(1)),
    large_us: Number(largeResult.us.toFixed(1)),
    ratio: Number(ratio.toFixed(2)),
  }),
);
