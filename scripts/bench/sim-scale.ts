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
 * Both replays divide the nodes among KROUTE_SIM_SCALE_JOBS threads (default one per
 * core, at most two: see JOBS), as `kroute-sim replay --jobs` does
 * (sim/src/parallel-replay.ts); `jobs` in the JSON says how many, and
 * KROUTE_SIM_SCALE_JOBS=1 gives one thread's figure. The threads' peer in the same run
 * is the slice replayed again on one thread (`ratio_threads_vs_one`). The threads start
 * together, and each generates and decodes the log as it replays it (about 2 s of the
 * replay's time): held whole, the log would be held once per thread.
 *
 * Replays run with the heap settings the kroute-sim CLI applies (sim/src/heap.ts).
 * `peak_rss_mib` is the process's peak when the full replay ends, before its peers run.
 *
 * `by_type` says where the full replay's time went, by event type (thread-seconds,
 * node-events, share of the time): what to look at before trying to make it faster.
 *
 * Ends with one JSON line.
 */
import { availableParallelism } from "node:os";
import { boundHeapGrowth } from "../../packages/sim/src/heap.ts";
import { MAX_JOBS, type MergedReplay, replayInParallel } from "../../packages/sim/src/parallel-replay.ts";

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
/**
 * Threads, as `kroute-sim replay --jobs`: one per core, at most two. Each thread has
 * its own heap and its own copy of what nodes share within a thread: on a 20,000-event
 * log a second thread added 260-270 MiB, and two peaked at 1,789-1,887 MiB on the
 * whole log, so a third would pass the 2 GiB target.
 */
const JOBS = knob("JOBS", Math.min(2, availableParallelism()));
if (JOBS > MAX_JOBS) {
  console.error(`KROUTE_SIM_SCALE_JOBS must be at most ${MAX_JOBS}, got ${JOBS}`);
  process.exit(2);
}
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
  readonly byType: MergedReplay["byType"];
}

async function replay(label: string, nodes: readonly string[] | undefined, jobs = JOBS): Promise<Run> {
  const run = await replayInParallel(
    {
      source: {
        kind: "generated",
        options: { nodes: NODES, routes: ROUTES, events: EVENTS, seed: SEED, pools: POOLS },
      },
      jobs,
      ...(nodes === undefined ? {} : { nodes }),
      ...(Number.isFinite(budgetS) ? { budgetS } : {}),
      verbose: false,
      report: false,
      results: false,
    },
    {
      onProgress: ({ events }) => {
        if (tty) process.stderr.write(`\r${label}: ${events}/${EVENTS} events`);
      },
    },
  );
  const bootstrapS = run.bootstrap?.seconds ?? run.seconds;
  const steadySeconds = run.bootstrap === undefined ? 0 : run.seconds - run.bootstrap.seconds;
  const steadyRate =
    steadySeconds > 0 ? Math.round((run.nodeEvents - (run.bootstrap?.nodeEvents ?? 0)) / steadySeconds) : 0;
  const result: Run = {
    nodes: run.nodes,
    events: run.events,
    nodeEvents: run.nodeEvents,
    seconds: run.seconds,
    complete: !run.stopped,
    violations: run.violations,
    bootstrapS,
    steadyRate,
    byType: run.byType,
  };
  say(
    `${label}: ${result.nodes} nodes on ${run.shares} thread${run.shares === 1 ? "" : "s"}, ${result.events}/${EVENTS} events, ${result.nodeEvents} node-events in ${result.seconds.toFixed(1)} s ` +
      `= ${Math.round(result.nodeEvents / result.seconds)} node-events/s (bootstrap ${bootstrapS.toFixed(1)} s${run.bootstrap === undefined ? ", unfinished" : ""}; ` +
      `after it ${steadyRate} node-events/s)${result.complete ? "" : " BUDGET EXHAUSTED"}, ${result.violations} violations`,
  );
  return result;
}

// Node i is in pool i % 10, so the first 100 nodes are 10 per pool.
const sliceNames = Array.from(
  { length: SLICE },
  (_, i) => `node-${String(i).padStart(String(NODES - 1).length, "0")}`,
);
// The full replay first, and its peak taken before the peers run: the one-thread slice
// replays in this thread, whose heap V8 then keeps committed for a while, and run
// before the full replay it added some 370 MiB to the peak (a 30,000-event log: 1,876
// MiB for the whole bench, 1,505 for the full replay alone in a process of its own).
const full = await replay(`full (${NODES} nodes)`, undefined);
const peakRssMib = Math.round(process.resourceUsage().maxRSS / 1024);
const slice = await replay(`slice (${SLICE} nodes)`, sliceNames);
// The threads' own peer: the same slice on one thread.
const sliceOneThread = JOBS > 1 ? await replay(`slice (${SLICE} nodes)`, sliceNames, 1) : slice;

const rate = (run: Run): number => Math.round(run.nodeEvents / run.seconds);
/**
 * Where the full replay's time went, by event type: thread-seconds (summed over the
 * threads), node-events, and each type's share of all the thread-seconds.
 */
function byType(run: Run): Record<string, { node_events: number; thread_s: number; share: number }> {
  const total = Object.values(run.byType).reduce((sum, cost) => sum + cost.seconds, 0);
  return Object.fromEntries(
    Object.entries(run.byType)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([type, cost]) => [
        type,
        {
          node_events: cost.nodeEvents,
          thread_s: Number(cost.seconds.toFixed(2)),
          share: Number((cost.seconds / total).toFixed(3)),
        },
      ]),
  );
}
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
    jobs: JOBS,
    slice_nodes: SLICE,
    slice_node_events_per_s: rate(slice),
    slice_complete: slice.complete,
    ratio_full_vs_slice: Number((rate(full) / rate(slice)).toFixed(3)),
    bootstrap_s: Number(full.bootstrapS.toFixed(1)),
    steady_node_events_per_s: full.steadyRate,
    slice_bootstrap_s: Number(slice.bootstrapS.toFixed(1)),
    slice_steady_node_events_per_s: slice.steadyRate,
    slice_one_thread_node_events_per_s: rate(sliceOneThread),
    ratio_threads_vs_one: Number((rate(slice) / rate(sliceOneThread)).toFixed(3)),
    budget_s: Number.isFinite(budgetS) ? budgetS : null,
    by_type: byType(full),
  }),
);
