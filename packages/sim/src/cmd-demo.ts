/**
 * `kroute-sim demo`, the README's main job (`scripts/dev run`): replays the bundled
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

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));

export function exampleLogs(): string[] {
  const logs = ["basic.jsonl"];
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
    out.push(`#### examples/${log}`, "-- ops applied", ...run.verbose, "", ...renderText(run.results));
  }
  out.push(violations === 0 ? "demo: every invariant held." : `demo: ${violations} invariant violations.`);
  await writeLines(process.stdout, out);
  return violations === 0 ? 0 : 1;
}
