/**
 * `pnpm bench sim-scale`: generate and replay a log of 1,000 nodes in 10 pools, 5,000
 * Routes each selecting a pool, 200,000 events. Targets: >= 100,000 node-events/s (an
 * event applied to one node counts once) and peak RSS < 2 GiB.
 *
 * Peer in the same run: the same log replayed for a 100-node slice (10 nodes per pool):
 * the ratio of per-node-event throughput shows whether cost grows with the node count.
 * Both replay the whole log. KROUTE_SIM_SCALE_BUDGET_S (unset by default) gives each
 * replay a time budget for diagnosis; one that runs out stops between two events, and
 * the figures say how far it got (`complete`, `events_replayed`, `node_events`): rates
 * are measured over what was replayed, never extrapolated.
 *
 * Replays run with the heap settings the kroute-sim CLI applies (sim/src/heap.ts).
 *
 * Ends with one JSON line.
 */
import { createLogDecoder, type EngineEvent } from "../../packages/core/src/index.ts";
import { generateLog } from "../../packages/sim/src/generate.ts";
import { boundHeapGrowth } from "../../packages/sim/src/heap.ts";
import { Replayer } from "../../packages/sim/src/replay.ts";

/** The figures; KROUTE_SIM_SCALE_{NODES,ROUTES,EVENTS} scale them down for diagnosis. */
function knob(name: string, fallback: number): number {
  const text = process.env[`KROUTE_SIM_SCALE_${name}`];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`KROUTE_SIM_SCALE_${name} must be a positive integer, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}
const NODES = knob("NODES", 1000);
const ROUTES = knob("ROUTES", 5000);
const EVENTS = knob("EVENTS", 200_000);
const POOLS = Math.min(10, NODES);
const SLICE = Math.max(1, Math.floor(NODES / 10));
const SEED = 1;
const budgetText = process.env.KROUTE_SIM_SCALE_BUDGET_S;
/** Seconds per replay, or Infinity: the whole log. */
const budgetS = budgetText === undefined || budgetText === "" ? Number.POSITIVE_INFINITY : Number(budgetText);
if (Number.isNaN(budgetS) || budgetS <= 0) {
  console.error(
    `KROUTE_SIM_SCALE_BUDGET_S must be a positive number of seconds, got ${process.env.KROUTE_SIM_SCALE_BUDGET_S}`,
  );
  process.exit(2);
}
const tty = process.stderr.isTTY === true;
const say = (text: string): void => {
  process.stderr.write(`${tty ? "\r\x1b[K" : ""}${text}\n`);
};

boundHeapGrowth();
const t0 = performance.now();
const decoder = createLogDecoder();
const events: EngineEvent[] = [];
for (const line of generateLog({ nodes: NODES, routes: ROUTES, events: EVENTS, seed: SEED, pools: POOLS })) {
  const result = decoder.push(line);
  if (result.kind === "error") throw new Error(`generated log is malformed: ${result.error.message}`);
  if (result.kind === "event") events.push(result.event);
}
const generateS = (performance.now() - t0) / 1000;
say(`generated and decoded ${events.length} events in ${generateS.toFixed(1)} s`);

interface Run {
  readonly nodes: number;
  readonly events: number;
  readonly nodeEvents: number;
  readonly seconds: number;
  readonly complete: boolean;
  readonly violations: number;
  /** Time to deliver the initial Route snapshot to every node. */
  readonly bootstrapS: number;
  /** Node-events per second after the bootstrap (Route churn, probes, label moves). */
  readonly steadyRate: number;
}

function replay(label: string, filter: ((node: string) => boolean) | undefined): Run {
  const start = performance.now();
  const replayer = new Replayer({
    ...(Number.isFinite(budgetS) ? { deadline: start + budgetS * 1000 } : {}),
    ...(filter === undefined ? {} : { nodeFilter: filter }),
  });
  let lastReport = start;
  let bootstrapEnd: { at: number; nodeEvents: number } | undefined;
  for (const event of events) {
    if (!replayer.push(event)) break;
    const now = performance.now();
    if (bootstrapEnd === undefined && event.type === "route/resynced" && !replayer.stopped) {
      bootstrapEnd = { at: now, nodeEvents: replayer.nodeEvents };
    }
    if (tty && now - lastReport > 500) {
      lastReport = now;
      process.stderr.write(
        `\r${label}: ${replayer.events}/${events.length} events, ${replayer.nodeEvents} node-events`,
      );
    }
  }
  const end = performance.now();
  const seconds = (end - start) / 1000;
  const violations = [...replayer.nodes.values()].reduce((n, sim) => n + sim.violations.length, 0);
  const bootstrapS = ((bootstrapEnd?.at ?? end) - start) / 1000;
  const steadySeconds = bootstrapEnd === undefined ? 0 : (end - bootstrapEnd.at) / 1000;
  const steadyRate =
    steadySeconds > 0
      ? Math.round((replayer.nodeEvents - (bootstrapEnd?.nodeEvents ?? 0)) / steadySeconds)
      : 0;
  const complete = !replayer.stopped;
  const run = {
    nodes: replayer.nodes.size,
    events: replayer.events,
    nodeEvents: replayer.nodeEvents,
    seconds,
    complete,
    violations,
    bootstrapS,
    steadyRate,
  };
  say(
    `${label}: ${run.nodes} nodes, ${run.events}/${events.length} events, ${run.nodeEvents} node-events in ${seconds.toFixed(1)} s ` +
      `= ${Math.round(run.nodeEvents / seconds)} node-events/s (bootstrap ${bootstrapS.toFixed(1)} s${bootstrapEnd === undefined ? ", unfinished" : ""}; ` +
      `after it ${steadyRate} node-events/s)${complete ? "" : " BUDGET EXHAUSTED"}, ${violations} violations`,
  );
  return run;
}

// Node i is in pool i % 10, so the first 100 nodes are 10 per pool.
const sliceNames = new Set(
  Array.from({ length: SLICE }, (_, i) => `node-${String(i).padStart(String(NODES - 1).length, "0")}`),
);
const slice = replay(`slice (${SLICE} nodes)`, (node) => sliceNames.has(node));
const full = replay(`full (${NODES} nodes)`, undefined);

const rate = (run: Run): number => Math.round(run.nodeEvents / run.seconds);
const peakRssMib = Math.round(process.resourceUsage().maxRSS / 1024);
console.log(
  JSON.stringify({
    bench: "sim-scale",
    nodes: NODES,
    routes: ROUTES,
    events: EVENTS,
    node_events_per_s: rate(full),
    peak_rss_mib: peakRssMib,
    complete: full.complete,
    events_replayed: full.events,
    nodes_started: full.nodes,
    node_events: full.nodeEvents,
    replay_s: Number(full.seconds.toFixed(1)),
    generate_decode_s: Number(generateS.toFixed(1)),
    slice_nodes: SLICE,
    slice_node_events_per_s: rate(slice),
    slice_complete: slice.complete,
    ratio_full_vs_slice: Number((rate(full) / rate(slice)).toFixed(3)),
    bootstrap_s: Number(full.bootstrapS.toFixed(1)),
    steady_node_events_per_s: full.steadyRate,
    slice_bootstrap_s: Number(slice.bootstrapS.toFixed(1)),
    slice_steady_node_events_per_s: slice.steadyRate,
    budget_s: Number.isFinite(budgetS) ? budgetS : null,
  }),
);
