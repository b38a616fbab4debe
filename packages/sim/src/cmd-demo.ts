/**
 * `kroute-sim demo` (`scripts/dev run demo`): replays the bundled
 * example logs (examples/basic.jsonl and examples/sim/*.jsonl) through the core and
 * the in-memory kernel, printing each node's table, the ops applied and the
 * invariant checks. No root, no cluster, fast and deterministic.
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { UsageError } from "./args.ts";
import { replayFile } from "./cmd-replay.ts";
import { writeLines } from "./output.ts";
import { renderText } from "./render.ts";

/**
 * In the package, so that an installed @kroute/sim has them too; the repository's
 * examples/ is a link to this directory.
 */
const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));

/** One line on what each bundled log shows (examples/README.md has the long form). */
const ABOUT: Readonly<Record<string, string>> = {
  "basic.jsonl":
    "the SPEC's seed examples on two nodes: ECMP for one pool, a single gateway, a default-route override; a gateway fails and returns",
  "edge-cases.jsonl":
    "conflicts (oldest wins), malformed and protected destinations beside good ones, probe: false, a table, fail-static",
  "sim/default-route.jsonl":
    "0.0.0.0/0 through two gateways: protected addresses and replies keep the original gateway; deleting the Route restores the node",
  "sim/drift.jsonl":
    "changes behind kroute's back: an owned route deleted (repaired), a foreign route (left alone), a link losing carrier",
  "sim/ecmp-failover.jsonl":
    "ECMP over two gateways: one fails, both fail (fail-static keeps both), they return",
  "sim/pools-and-conflicts.jsonl":
    "two pools, a conflict, bad and protected destinations, a node moving pools, a Route updated then deleted",
};

export function exampleLogs(): string[] {
  const logs = ["basic.jsonl"];
  for (const name of readdirSync(EXAMPLES).sort())
    if (name.endsWith(".jsonl") && !logs.includes(name)) logs.push(name);
  try {
    for (const name of readdirSync(`${EXAMPLES}sim`).sort())
      if (name.endsWith(".jsonl")) logs.push(`sim/${name}`);
  } catch {
    // no extra examples
  }
  return logs;
}

export async function runDemo(argv: readonly string[]): Promise<number> {
  if (argv.length > 0) throw new UsageError(`demo takes no arguments, got ${JSON.stringify(argv[0])}`);
  let violations = 0;
  const out: string[] = [
    "kroute-sim demo: each bundled event log replayed through the core and the in-memory kernel.",
    "(`kroute-sim replay LOG --verbose` shows every op; `kroute-sim cluster` runs real agents, as root.)",
    "",
  ];
  for (const log of exampleLogs()) {
    const run = await replayFile(`${EXAMPLES}${log}`, { verbose: true });
    violations += run.violations;
    const about = ABOUT[log];
    out.push(
      `#### examples/${log}${about === undefined ? "" : `: ${about}`}`,
      "-- ops applied",
      ...run.verbose,
      "",
      ...renderText(run.results),
    );
  }
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  out.push(
    root
      ? "You are root: `pnpm sim cluster` runs these Routes on real agents and kernels in network namespaces (about 30 s)."
      : "As root, `pnpm sim cluster` runs these Routes on real agents and kernels in network namespaces.",
    violations === 0 ? "demo: every invariant held." : `demo: ${violations} invariant violations.`,
  );
  await writeLines(process.stdout, out);
  return violations === 0 ? 0 : 1;
}
