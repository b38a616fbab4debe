/**
 * `pnpm bench core-scale`: is the core incremental? The median cost of one Route
 * update through reduce (which maintains the desired table) and plan (the diff of
 * what changed) plus that Route's outcome, with 10,000 Routes in state (1 to 20
 * destinations each), against the same with 100 Routes. The ratio must stay ≤ 3.
 *
 * Then the 10,000 Routes again on a node over --max-destinations (CAPPED, about half
 * of the Routes' ~105,000 destinations): an abnormal state, but one where every Route
 * event works out again which Routes get in (packages/core/src/admission.ts). Its
 * median is reported with its ratio to the same Routes without the cap.
 *
 * Both states start converged (the kernel holds exactly the desired table), so the
 * measured ops are the update's own. Inputs come from a seeded generator: every run
 * measures the same work.
 */
import {
  DEFAULT_SETTINGS,
  desiredTable,
  type EngineEvent,
  type EngineSettings,
  type EventBody,
  initialNodeState,
  type NodeState,
  plan,
  type RouteObject,
  reduce,
  routeOutcome,
} from "../../packages/core/src/index.ts";
import { median } from "./lib/stats.ts";

const NODE = "bench-node";
const LARGE = 10_000;
const SMALL = 100;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 400);
/**
 * The defaults without the cap on destinations: 10,000 Routes of 1 to 20 destinations
 * are about 105,000, past the default 20,000, and a node over its cap also works out
 * which Routes get in at each change (packages/core/src/admission.ts), and leaves most
 * of them out: the CAPPED peer times that, this one the update of every Route.
 */
const { maxDestinations: _cap, ...SETTINGS } = DEFAULT_SETTINGS;
/** Below the LARGE state's ~105,000 destinations: about half of its Routes are left out. */
const CAPPED = 50_000;

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

function convergedState(routes: number, settings: EngineSettings = SETTINGS): NodeState {
  const random = generator(42);
  let state = initialNodeState(NODE, settings);
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

interface Peer {
  readonly state: NodeState;
  readonly updates: EngineEvent[];
  readonly times: number[];
  ops: number;
}

/** The same kind of update for each size: a random Route of that state replaced by a new random version. */
function peer(state: NodeState, routes: number): Peer {
  const random = generator(7);
  const updates = Array.from({ length: SAMPLES }, (_, i) => {
    const name = `route-${Math.floor(random() * routes)}`;
    return event({ type: "route/upserted", route: randomRoute(name, random, 2 + i) });
  });
  return { state, updates, times: [], ops: 0 };
}

/** One Route update (reduce, plan, its outcome) from the same converged state, in microseconds. */
function time(peer: Peer, i: number): void {
  const update = peer.updates[i];
  if (update?.type !== "route/upserted") return;
  const start = process.hrtime.bigint();
  const next = reduce(peer.state, update);
  peer.ops += plan(next).length;
  routeOutcome(next, update.route.metadata.name);
  peer.times.push(Number(process.hrtime.bigint() - start) / 1000);
}

const setupStart = Date.now();
const small = peer(convergedState(SMALL), SMALL);
const large = peer(convergedState(LARGE), LARGE);
const cappedState = convergedState(LARGE, { ...SETTINGS, maxDestinations: CAPPED });
if (cappedState.derived.capped.size === 0)
  throw new Error(`bench setup: ${CAPPED} destinations leave no Route out`);
const capped = peer(cappedState, LARGE);
console.log(`setup: ${SMALL} and ${LARGE} Routes (twice) converged in ${Date.now() - setupStart} ms`);
// A warm-up round, then samples alternating between the states so all see the same machine conditions.
for (let round = 0; round < 2; round++) {
  for (const p of [small, large, capped]) {
    p.times.length = 0;
    p.ops = 0;
  }
  for (let i = 0; i < SAMPLES; i++) {
    time(small, i);
    time(large, i);
    time(capped, i);
  }
}
const smallUs = median(small.times);
const largeUs = median(large.times);
const cappedUs = median(capped.times);
for (const [label, p, us] of [
  [`${SMALL} Routes`, small, smallUs],
  [`${LARGE} Routes`, large, largeUs],
  [`${LARGE} Routes, --max-destinations ${CAPPED}`, capped, cappedUs],
] as const) {
  console.log(
    `${label}: median ${us.toFixed(1)} µs per update (${(p.ops / SAMPLES).toFixed(1)} ops on average)`,
  );
}
console.log(
  JSON.stringify({
    bench: "core-scale",
    small_us: Number(smallUs.toFixed(1)),
    large_us: Number(largeUs.toFixed(1)),
    ratio: Number((largeUs / smallUs).toFixed(2)),
    capped_us: Number(cappedUs.toFixed(1)),
    capped_ratio: Number((cappedUs / largeUs).toFixed(2)),
  }),
);
