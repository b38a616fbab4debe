import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { replayFile } from "../src/cmd-replay.ts";
import { formatOp } from "../src/format.ts";
import { generateLog } from "../src/generate.ts";
import { MalformedLogError } from "../src/log-reader.ts";
import { replayInParallel } from "../src/parallel-replay.ts";
import { type NodeResult, renderJson, renderText } from "../src/render.ts";
import { renderReport } from "../src/report.ts";
import { Timeline } from "../src/timeline.ts";
import { decode, replay } from "./helpers.ts";

const EXAMPLES = fileURLToPath(new URL("../../../examples/sim/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "kroute-parallel-"));

type Outputs = Record<"text" | "json" | "verbose" | "report" | "violations", string>;

function printed(results: readonly NodeResult[], verbose: readonly string[], timeline: Timeline): Outputs {
  return {
    text: renderText(results).join("\n"),
    json: renderJson(results),
    verbose: verbose.join("\n"),
    report: renderReport("r", timeline),
    violations: String(results.reduce((n, r) => n + r.violations.length, 0)),
  };
}

/** Everything `replay` prints or writes: tables, JSON, verbose ops, the report page. */
async function outputs(path: string, jobs: number): Promise<Outputs> {
  const run = await replayFile(path, { jobs, verbose: true, report: true });
  return printed(run.results, run.verbose, run.timeline);
}

/** The same from one Replayer fed in this thread: what shares and their merge must reproduce. */
function reference(path: string): Outputs {
  const timeline = new Timeline(true);
  const verbose: string[] = [];
  const { results } = replay(decode(readFileSync(path, "utf8")), {
    timeline,
    onStep: (node, step) => {
      for (const { op, result } of step.results)
        verbose.push(
          `seq ${step.seq} ${node}: ${formatOp(op)}${result.ok ? "" : `  => ${result.code}: ${result.message}`}`,
        );
      for (const v of step.violations) verbose.push(`seq ${step.seq} ${node}: !! ${v.message}`);
    },
  });
  return printed(results, verbose, timeline);
}

describe("parallel replay", () => {
  const generated = join(dir, "generated.jsonl");
  // Enough churn for label moves, flaps and Route changes on nodes of every share.
  writeFileSync(
    generated,
    [...generateLog({ nodes: 13, routes: 60, events: 2500, seed: 5, pools: 3 })].join("\n"),
  );

  it("divides the nodes among threads and merges into exactly one thread's output", async () => {
    const one = reference(generated);
    expect(await outputs(generated, 1)).toEqual(one);
    expect(await outputs(generated, 3)).toEqual(one);
    expect(JSON.parse(one.json as string).nodes).toHaveProperty("node-12");
    expect((one.verbose as string).split("\n").length).toBeGreaterThan(1000);
    const run = await replayInParallel({
      source: { kind: "file", path: generated },
      jobs: 3,
      verbose: false,
      report: false,
      results: false,
    });
    expect(run.shares).toBe(3);
    expect(run.nodes).toBe(13);
  });

  it("says where the time went by event type, the same node-events on any number of threads", async () => {
    const run = (jobs: number) =>
      replayInParallel({
        source: { kind: "file", path: generated },
        jobs,
        verbose: false,
        report: false,
        results: false,
      });
    const [one, three] = [await run(1), await run(3)];
    const nodeEvents = (r: typeof one) =>
      Object.fromEntries(Object.entries(r.byType).map(([type, cost]) => [type, cost.nodeEvents]));
    expect(nodeEvents(three)).toEqual(nodeEvents(one));
    const total = Object.values(one.byType).reduce((n, cost) => n + cost.nodeEvents, 0);
    expect(total).toBe(one.nodeEvents);
    // Route events reach all 13 nodes; probes name one.
    expect(one.byType["probe/result"]?.nodeEvents).toBeGreaterThan(100);
    expect(one.byType["route/upserted"]?.nodeEvents ?? 0).toBeGreaterThan(13);
    for (const cost of Object.values(three.byType)) expect(cost.seconds).toBeGreaterThan(0);
  });

  it("gives the example logs' output on two threads too, final checks included", async () => {
    for (const name of [
      "default-route.jsonl",
      "drift.jsonl",
      "ecmp-failover.jsonl",
      "pools-and-conflicts.jsonl",
    ]) {
      expect(await outputs(`${EXAMPLES}${name}`, 2), name).toEqual(reference(`${EXAMPLES}${name}`));
    }
  });

  it("simulates only the listed nodes, divided evenly", async () => {
    const run = await replayInParallel({
      source: { kind: "generated", options: { nodes: 13, routes: 60, events: 600, seed: 5, pools: 3 } },
      jobs: 2,
      nodes: ["node-01", "node-04", "node-07"],
      verbose: false,
      report: false,
      results: true,
    });
    expect(run.results.map((r) => r.node)).toEqual(["node-01", "node-04", "node-07"]);
    expect(run.shares).toBe(2);
  });

  it("reports a malformed log naming the line, from the threads", async () => {
    const lines = readFileSync(`${EXAMPLES}ecmp-failover.jsonl`, "utf8").split("\n");
    lines[3] = lines[3]?.replace('"gateway":"10.114.0.3"', '"gateway":"10.114.0.300"') ?? "";
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, lines.join("\n"));
    const failure = replayFile(bad, { jobs: 2 });
    await expect(failure).rejects.toBeInstanceOf(MalformedLogError);
    await expect(failure).rejects.toThrow(/line 4: .*10\.114\.0\.300/);
  });

  it("fails as one thread would for a log that cannot be read", async () => {
    const missing = join(dir, "missing.jsonl");
    await expect(replayFile(missing, { jobs: 2 })).rejects.toMatchObject({ code: "ENOENT" });
    await expect(replayFile(dir, { jobs: 2 })).rejects.toMatchObject({ code: "EISDIR" });
  });

  it("refuses a job count out of range", async () => {
    await expect(replayFile(generated, { jobs: 0 })).rejects.toThrow(
      /jobs must be an integer in 1\.\.64, got 0/,
    );
  });
});
