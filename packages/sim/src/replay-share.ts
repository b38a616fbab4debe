/**
 * One share of a replay: the whole log is read, and the nodes whose first-appearance
 * index is `part` modulo `parts` are simulated. Nodes never affect one another (Route
 * events reach every node alike; everything else names one node), so shares replayed
 * apart, on threads (parallel-replay.ts) or in this one, merge into exactly what one
 * replay of every node gives.
 *
 * What a share returns is plain data (it crosses threads by structured clone), tagged
 * with each node's first-appearance index so the merge can restore the one-replay order.
 */
import { createLogDecoder, type LogWarning } from "@kroute/core";
import { formatOp } from "./format.ts";
import { type GenerateOptions, generateLog } from "./generate.ts";
import { type LoggedEvent, MalformedLogError, readLog } from "./log-reader.ts";
import type { NodeResult } from "./render.ts";
import { Replayer } from "./replay.ts";
import { type NodeTimeline, Timeline } from "./timeline.ts";

/** Where a share's events come from: every share reads the whole log itself. */
export type LogSource =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "generated"; readonly options: GenerateOptions };

export interface ShareTask {
  readonly source: LogSource;
  readonly part: number;
  readonly parts: number;
  /** Only this node is simulated (--node). */
  readonly node?: string;
  /** Only these nodes are simulated (a benchmark slice); the shares divide them. */
  readonly nodes?: readonly string[];
  readonly until?: number;
  /** Keep the ops and violations of every step, for --verbose. */
  readonly verbose: boolean;
  /** Keep a timeline, for --report. */
  readonly report: boolean;
  /** Return each node's table and violations; a benchmark needs only the counts. */
  readonly results: boolean;
  /** Seconds of replay after which no further event is delivered (benchmark budgets). */
  readonly budgetS?: number;
}

/** A step's verbose lines, with what orders them as one replay would have printed them. */
export interface VerboseEntry {
  /** 0 during the log, 1 for the final checks after it. */
  readonly phase: 0 | 1;
  readonly seq: number;
  readonly order: number;
  readonly lines: readonly string[];
}

/** How much a replay did, and how fast: of one share, or of all of them merged. */
export interface ReplayCounts {
  /** Events read (shares stopped by a budget may differ: merged, the fewest). */
  readonly events: number;
  readonly nodeEvents: number;
  readonly nodes: number;
  readonly violations: number;
  readonly stopped: boolean;
  /** The seq of the first event after `until`, which stopped the replay; absent if none came. */
  readonly pastUntil?: number;
  /** Seconds from the start of the replay to the end of its last event (merged: the slowest share's). */
  readonly seconds: number;
  /** When the initial Route snapshot had reached every node (merged: of every share). */
  readonly bootstrap?: { readonly seconds: number; readonly nodeEvents: number };
  /** Where the time went, by event type (merged: summed over the shares, so thread-seconds). */
  readonly byType: Readonly<Record<string, TypeCost>>;
}

/** One event type's part of a replay. */
export interface TypeCost {
  readonly nodeEvents: number;
  /** Seconds spent delivering events of this type to the share's nodes, checks included. */
  readonly seconds: number;
}

/** Costs by event type, as they are added up. */
export type CostTotals = Record<string, { nodeEvents: number; seconds: number }>;

/** Adds one delivery's cost to its type's. */
export function addCost(byType: CostTotals, type: string, cost: TypeCost): void {
  const total = byType[type] ?? { nodeEvents: 0, seconds: 0 };
  total.nodeEvents += cost.nodeEvents;
  total.seconds += cost.seconds;
  byType[type] = total;
}

export interface ShareResult extends ReplayCounts {
  readonly results: readonly (NodeResult & { readonly order: number })[];
  readonly verbose: readonly VerboseEntry[];
  readonly timeline: {
    readonly nodes: readonly (NodeTimeline & { readonly order: number })[];
    readonly firstSeq: number;
    readonly lastSeq: number;
  };
}

/** How far a replay is: events read, and how much of the log that is when known. */
export interface ReplayProgress {
  readonly events: number;
  /** 0 to 1: of a file, bytes read of its size; of a generated log, events of its count. Absent for a pipe. */
  readonly fraction?: number;
}

export interface ShareHooks {
  onWarning?(warning: LogWarning): void;
  /** Called every few hundred events. */
  onProgress?(progress: ReplayProgress): void;
  /** The replay starts when this resolves: threads start together. */
  ready?(): Promise<void>;
}

const PROGRESS_EVERY = 500;

/** Decoded as it is generated: a log held whole would be held once per thread. */
function* generatedEvents(options: GenerateOptions): Generator<LoggedEvent> {
  const decoder = createLogDecoder();
  let line = 0;
  for (const text of generateLog(options)) {
    line++;
    const result = decoder.push(text);
    if (result.kind === "error") throw new MalformedLogError(`generated log: ${result.error.message}`);
    if (result.kind === "event") yield { event: result.event, line, fraction: line / options.events };
  }
}

function eventsOf(source: LogSource, hooks: ShareHooks): AsyncIterable<LoggedEvent> | Iterable<LoggedEvent> {
  if (source.kind === "generated") return generatedEvents(source.options);
  return readLog(source.path, (warning) => hooks.onWarning?.(warning));
}

/** Where a source's lines are, as its decoding errors name it. */
function sourceName(source: LogSource): string {
  return source.kind === "file" ? source.path : "generated log";
}

/**
 * Feeds one event; facts the replay finds no kernel could hold (node-sim.ts) are named by
 * file and line, as decoding errors are, so the operator can go to the line.
 */
function pushAt(replayer: Replayer, { event, line }: LoggedEvent, source: LogSource): boolean {
  try {
    return replayer.push(event);
  } catch (error) {
    if (!(error instanceof MalformedLogError)) throw error;
    throw new MalformedLogError(`${sourceName(source)}: line ${line}: ${error.message}`);
  }
}

export async function replayShare(task: ShareTask, hooks: ShareHooks = {}): Promise<ShareResult> {
  const order = new Map<string, number>();
  const wanted = task.nodes === undefined ? undefined : new Set(task.nodes);
  // Indices count only the nodes simulated at all, so a slice is divided evenly too.
  const inShare = (node: string): boolean => {
    if (wanted !== undefined && !wanted.has(node)) return false;
    const index = order.size;
    order.set(node, index);
    return index % task.parts === task.part;
  };
  const timeline = new Timeline(task.report);
  const verbose: VerboseEntry[] = [];
  let phase: 0 | 1 = 0;
  await hooks.ready?.();
  const start = performance.now();
  const replayer = new Replayer({
    nodeFilter: inShare,
    ...(task.node === undefined ? {} : { node: task.node }),
    ...(task.until === undefined ? {} : { until: task.until }),
    ...(task.budgetS === undefined ? {} : { deadline: start + task.budgetS * 1000 }),
    timeline,
    ...(task.verbose
      ? {
          onStep: (node, step) => {
            const lines: string[] = [];
            for (const { op, result } of step.results) {
              const outcome = result.ok ? "" : `  => ${result.code}: ${result.message}`;
              lines.push(`seq ${step.seq} ${node}: ${formatOp(op)}${outcome}`);
            }
            for (const v of step.violations) lines.push(`seq ${step.seq} ${node}: !! ${v.message}`);
            verbose.push({ phase, seq: step.seq, order: order.get(node) ?? 0, lines });
          },
        }
      : {}),
  });
  let end = start;
  let bootstrap: ShareResult["bootstrap"];
  const byType: CostTotals = {};
  for await (const logged of eventsOf(task.source, hooks)) {
    const event = logged.event;
    const pushedAt = performance.now();
    const delivered = replayer.nodeEvents;
    if (!pushAt(replayer, logged, task.source)) break;
    end = performance.now();
    addCost(byType, event.type, {
      nodeEvents: replayer.nodeEvents - delivered,
      seconds: (end - pushedAt) / 1000,
    });
    if (bootstrap === undefined && event.type === "route/resynced" && !replayer.stopped)
      bootstrap = { seconds: (end - start) / 1000, nodeEvents: replayer.nodeEvents };
    if (replayer.events % PROGRESS_EVERY === 0)
      hooks.onProgress?.({
        events: replayer.events,
        ...(logged.fraction === undefined ? {} : { fraction: logged.fraction }),
      });
  }
  phase = 1;
  replayer.finish();
  const sims = [...replayer.nodes.values()];
  return {
    results: task.results
      ? sims.map((sim) => ({
          order: order.get(sim.name) ?? 0,
          node: sim.name,
          snapshot: sim.snapshot(),
          violations: sim.violations,
        }))
      : [],
    verbose,
    timeline: {
      nodes: [...timeline.nodes.values()].map((node) => ({ ...node, order: order.get(node.node) ?? 0 })),
      firstSeq: timeline.firstSeq,
      lastSeq: timeline.lastSeq,
    },
    events: replayer.events,
    nodeEvents: replayer.nodeEvents,
    nodes: sims.length,
    violations: sims.reduce((n, sim) => n + sim.violations.length, 0),
    stopped: replayer.stopped,
    ...(replayer.pastUntil === undefined ? {} : { pastUntil: replayer.pastUntil }),
    seconds: (end - start) / 1000,
    ...(bootstrap === undefined ? {} : { bootstrap }),
    byType,
  };
}
