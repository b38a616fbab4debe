/**
 * A replay divided among threads: each worker (replay-worker.ts) reads the whole log
 * and simulates every `jobs`-th node, and the shares merge into exactly the output of
 * one replay (replay-share.ts says why that holds). Nodes are the unit of work because
 * they are independent and there are many. On a two-core machine, two threads replay
 * 1,000 nodes of a sim-scale log 1.45-1.7x as fast as one (scripts/bench/sim-scale.ts,
 * 20,000 events, alternating runs).
 *
 * Each worker has its own heap and compiled code, and its own copy of what nodes share
 * within one thread (the Route index, shared contributions and routes): there, the
 * second thread added 260-270 MiB. So memory grows with `jobs`: the CLI's default stays at one
 * thread, and `--jobs` asks for more.
 */
import { extname } from "node:path";
import { Worker } from "node:worker_threads";
import { REPLAY_YOUNG_GENERATION_MIB } from "./heap.ts";
import { MalformedLogError } from "./log-reader.ts";
import type { NodeResult } from "./render.ts";
import {
  addCost,
  type CostTotals,
  type ReplayCounts,
  type ReplayProgress,
  replayShare,
  type ShareHooks,
  type ShareResult,
  type ShareTask,
  type TypeCost,
} from "./replay-share.ts";
import type { WorkerMessage } from "./replay-worker.ts";
import type { NodeTimeline } from "./timeline.ts";

export type ReplayTask = Omit<ShareTask, "part" | "parts"> & { readonly jobs: number };

export interface MergedReplay extends ReplayCounts {
  /** How many shares the nodes were divided into: one per thread. */
  readonly shares: number;
  /** In the order nodes first appear in the log, as one replay lists them. */
  readonly results: readonly NodeResult[];
  /** The --verbose lines, in the order one replay prints them. */
  readonly verbose: readonly string[];
  readonly timelineNodes: readonly NodeTimeline[];
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** Warnings come from one share for all; progress is how far the slowest share is. */
export type ReplayHooks = Omit<ShareHooks, "ready">;

export const MAX_JOBS = 64;

export async function replayInParallel(task: ReplayTask, hooks: ReplayHooks = {}): Promise<MergedReplay> {
  const { jobs, ...share } = task;
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > MAX_JOBS)
    throw new RangeError(`jobs must be an integer in 1..${MAX_JOBS}, got ${jobs}`);
  // One node is never divided.
  if (jobs === 1 || task.node !== undefined)
    return merge([await replayShare({ ...share, part: 0, parts: 1 }, hooks)]);
  return merge(await inWorkers(share, jobs, hooks));
}

function inWorkers(share: Omit<ShareTask, "part" | "parts">, jobs: number, hooks: ReplayHooks) {
  const workers = Array.from(
    { length: jobs },
    (_, part) =>
      // This module's own extension: .ts run from the sources, .js from a built package (lib/).
      new Worker(new URL(`./replay-worker${extname(import.meta.url)}`, import.meta.url), {
        workerData: { ...share, part, parts: jobs } satisfies ShareTask,
        resourceLimits: { maxYoungGenerationSizeMb: REPLAY_YOUNG_GENERATION_MIB },
      }),
  );
  const progress = new Array<ReplayProgress>(jobs).fill({ events: 0, fraction: 0 });
  let ready = 0;
  return new Promise<ShareResult[]>((resolve, reject) => {
    const results = new Array<ShareResult | undefined>(jobs);
    let done = 0;
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      for (const worker of workers) void worker.terminate();
      reject(error);
    };
    workers.forEach((worker, part) => {
      worker.on("error", fail);
      worker.on("exit", (code) => {
        if (results[part] === undefined) fail(new Error(`replay worker ${part} exited with code ${code}`));
      });
      worker.on("message", (message: WorkerMessage) => {
        switch (message.kind) {
          case "warning":
            hooks.onWarning?.(message.warning);
            return;
          case "progress":
            progress[part] = message.progress;
            hooks.onProgress?.(slowest(progress));
            return;
          case "ready":
            if (++ready === jobs) for (const w of workers) w.postMessage("go");
            return;
          case "done":
            results[part] = message.result;
            if (++done === jobs) resolve(results as ShareResult[]);
            return;
          case "failed": {
            const error: NodeJS.ErrnoException = message.malformed
              ? new MalformedLogError(message.message)
              : new Error(message.message);
            if (message.stack !== undefined && !message.malformed) error.stack = message.stack;
            if (message.code !== undefined) error.code = message.code;
            fail(error);
            return;
          }
          default: {
            const unreachable: never = message;
            fail(new Error(`unexpected worker message ${JSON.stringify(unreachable)}`));
          }
        }
      });
    });
  });
}

/** Every share reads the same log: how far all of them are is how far the slowest is. */
function slowest(shares: readonly ReplayProgress[]): ReplayProgress {
  const events = Math.min(...shares.map((s) => s.events));
  const fractions = shares.map((s) => s.fraction);
  if (fractions.some((f) => f === undefined)) return { events };
  return { events, fraction: Math.min(...(fractions as number[])) };
}

function merge(shares: readonly ShareResult[]): MergedReplay {
  const byOrder = (a: { order: number }, b: { order: number }): number => a.order - b.order;
  const bootstraps = shares.map((s) => s.bootstrap);
  const complete = bootstraps.every((b) => b !== undefined);
  return {
    shares: shares.length,
    results: shares
      .flatMap((s) => s.results)
      .sort(byOrder)
      .map(({ order: _order, ...result }) => result),
    verbose: shares
      .flatMap((s) => s.verbose)
      .sort((a, b) => a.phase - b.phase || a.seq - b.seq || a.order - b.order)
      .flatMap((entry) => entry.lines),
    timelineNodes: shares
      .flatMap((s) => s.timeline.nodes)
      .sort(byOrder)
      .map(({ order: _order, ...node }) => node),
    firstSeq: Math.min(...shares.map((s) => s.timeline.firstSeq)),
    lastSeq: Math.max(...shares.map((s) => s.timeline.lastSeq)),
    events: Math.min(...shares.map((s) => s.events)),
    nodeEvents: shares.reduce((n, s) => n + s.nodeEvents, 0),
    nodes: shares.reduce((n, s) => n + s.nodes, 0),
    violations: shares.reduce((n, s) => n + s.violations, 0),
    stopped: shares.some((s) => s.stopped),
    // Every share reads the same log, so every share stops at the same event.
    ...(shares[0]?.pastUntil === undefined ? {} : { pastUntil: shares[0].pastUntil }),
    seconds: Math.max(...shares.map((s) => s.seconds)),
    byType: summedByType(shares),
    ...(complete
      ? {
          bootstrap: {
            seconds: Math.max(...bootstraps.map((b) => b?.seconds ?? 0)),
            nodeEvents: bootstraps.reduce((n, b) => n + (b?.nodeEvents ?? 0), 0),
          },
        }
      : {}),
  };
}

function summedByType(shares: readonly ShareResult[]): Record<string, TypeCost> {
  const sum: CostTotals = {};
  for (const share of shares) {
    for (const [type, cost] of Object.entries(share.byType)) addCost(sum, type, cost);
  }
  return sum;
}
