/** `kroute-sim replay LOG`: run a log through the core and the fake kernel, print the tables. */
import { statSync, writeFileSync } from "node:fs";
import { intFlag, parseFlags, reportPath, UsageError } from "./args.ts";
import { MalformedLogError } from "./log-reader.ts";
import { progressOnStderr, writeLines } from "./output.ts";
import { MAX_JOBS, replayInParallel } from "./parallel-replay.ts";
import { type NodeResult, renderJson, renderText, violationText } from "./render.ts";
import type { ReplayProgress } from "./replay-share.ts";
import { renderReport } from "./report.ts";
import { Timeline } from "./timeline.ts";
import { systemErrorCode, unreadable } from "./unreadable.ts";

export interface ReplayRun {
  readonly results: NodeResult[];
  readonly verbose: string[];
  readonly timeline: Timeline;
  readonly violations: number;
  /** Events replayed, and the last one's seq (meaningless when none was). */
  readonly events: number;
  readonly lastSeq: number;
  /** The seq of the first event after --until, which stopped the replay; undefined if none came. */
  readonly pastUntil: number | undefined;
}

export interface ReplayFileOptions {
  readonly node?: string;
  readonly until?: number;
  readonly verbose?: boolean;
  readonly report?: boolean;
  /** Threads to replay the nodes on (parallel-replay.ts); the output is the same. Default 1. */
  readonly jobs?: number;
  /** Collect into this timeline (several logs in one report) instead of a new one. */
  readonly timeline?: Timeline;
}

/** Events read, and how much of the file that is (of a pipe, the count alone: its size is unknown). */
function progressText({ events, fraction }: ReplayProgress): string {
  // Rounded down: 100% only once the whole file is read.
  return fraction === undefined
    ? `${events} events`
    : `${events} events, ${Math.floor(fraction * 100)}% of the file`;
}

/** Replays one log file; verbose lines are collected in order. Throws MalformedLogError. */
export async function replayFile(path: string, options: ReplayFileOptions = {}): Promise<ReplayRun> {
  const timeline = options.timeline ?? new Timeline(options.report === true);
  const progress = progressOnStderr(`replay ${path}`);
  const run = await replayInParallel(
    {
      source: { kind: "file", path },
      jobs: options.jobs ?? 1,
      ...(options.node === undefined ? {} : { node: options.node }),
      ...(options.until === undefined ? {} : { until: options.until }),
      verbose: options.verbose === true,
      report: timeline.enabled,
      results: true,
    },
    {
      onWarning: (w) => progress.print(`warning: ${path}: ${w.message}\n`),
      onProgress: (at) => progress.update(progressText(at)),
    },
    // Cleared when the replay fails too: the caller's error message then starts a line of its own.
  ).finally(() => progress.done());
  timeline.absorb(run.timelineNodes, run.firstSeq, run.lastSeq);
  return {
    results: [...run.results],
    verbose: [...run.verbose],
    timeline,
    violations: run.violations,
    events: run.events,
    lastSeq: run.lastSeq,
    pastUntil: run.pastUntil,
  };
}

function jobsFlag(values: Record<string, unknown>, path: string): number {
  const jobs = intFlag(values, "jobs", 1, 1);
  if (jobs > MAX_JOBS) throw new UsageError(`--jobs must be at most ${MAX_JOBS}, got ${jobs}`);
  // Every thread reads the log itself: from a pipe (/dev/stdin, <(...)) each would get
  // only some of its lines, and fail on a line cut in two.
  if (jobs > 1 && isPipeOrDevice(path))
    throw new UsageError(
      `--jobs ${jobs} needs a regular file, and ${JSON.stringify(path)} is a pipe or device: every thread reads the log whole; use --jobs 1`,
    );
  return jobs;
}

/** Whether `path` is there and neither a file nor a directory; unreadable, the reader says why. */
function isPipeOrDevice(path: string): boolean {
  try {
    const kind = statSync(path, { throwIfNoEntry: false });
    return kind !== undefined && !kind.isFile() && !kind.isDirectory();
  } catch {
    return false;
  }
}

/**
 * `--until` must fall within the log. Before its first event nothing is replayed, and
 * past its last the whole log is: either way the output would stand for a moment the
 * log does not reach (a mistyped seq, the wrong file, a recording cut short).
 */
function untilWithinLog(until: number, path: string, run: ReplayRun): void {
  if (run.events === 0 && run.pastUntil !== undefined)
    throw new UsageError(
      `--until ${until} is before the first event of ${path} (seq ${run.pastUntil}): nothing would be replayed`,
    );
  if (run.pastUntil === undefined && until > run.lastSeq)
    throw new UsageError(
      `--until ${until} is past the last event of ${path} (seq ${run.lastSeq}); without --until the whole log is replayed`,
    );
}

export async function runReplay(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    node: { type: "string" },
    until: { type: "string" },
    verbose: { type: "boolean", short: "v" },
    json: { type: "boolean" },
    report: { type: "string" },
    jobs: { type: "string" },
  });
  const [path, ...extra] = positionals;
  if (path === undefined) throw new UsageError("replay needs a LOG file");
  if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const report = reportPath(values.report);
  const jobs = jobsFlag(values, path);
  const until = values.until === undefined ? undefined : intFlag(values, "until", undefined);
  let run: ReplayRun;
  try {
    run = await replayFile(path, {
      ...(values.node === undefined ? {} : { node: values.node }),
      ...(until === undefined ? {} : { until }),
      verbose: values.verbose === true && values.json !== true,
      report: report !== undefined,
      jobs,
    });
  } catch (error) {
    // A log that is malformed or cannot be read (missing, a directory, not readable).
    if (error instanceof MalformedLogError) {
      process.stderr.write(`kroute-sim replay: ${error.message}\n`);
      return 1;
    }
    const code = systemErrorCode(error);
    if (code !== undefined) {
      process.stderr.write(`kroute-sim replay: ${unreadable("LOG", path, code)}\n`);
      return 1;
    }
    throw error;
  }
  if (until !== undefined) untilWithinLog(until, path, run);
  if (values.node !== undefined && !run.results.some((result) => result.node === values.node)) {
    // An empty table would read as "kroute programmed nothing there", which the log does not say.
    // With --until the node's events may only come later: the message must not deny them.
    const upTo = until === undefined ? "" : ` up to seq ${until} (--until)`;
    throw new UsageError(`--node ${JSON.stringify(values.node)}: no events for this node in ${path}${upTo}`);
  }
  if (run.results.length === 0) {
    // Only Route events, which are cluster-wide: no node to simulate, and no output at all
    // would read as a replay where everything held.
    const upTo = until === undefined ? "" : ` up to seq ${until} (--until)`;
    process.stderr.write(
      `kroute-sim replay: ${path}: no node named in it${upTo} (${run.events} events, all Route events): nothing to simulate\n`,
    );
    return 1;
  }
  if (report !== undefined) writeFileSync(report, renderReport(`kroute-sim replay ${path}`, run.timeline));
  if (values.json === true) {
    process.stdout.write(`${renderJson(run.results)}\n`);
  } else {
    await writeLines(process.stdout, run.verbose.length > 0 ? ["-- ops applied", ...run.verbose, ""] : []);
    await writeLines(process.stdout, renderText(run.results));
  }
  if (run.violations > 0) {
    process.stderr.write(`kroute-sim replay: ${run.violations} invariant violations\n`);
    for (const result of run.results) {
      for (const v of result.violations.slice(0, 5))
        process.stderr.write(`  ${result.node}: ${violationText(v)}\n`);
    }
    return 1;
  }
  return 0;
}
