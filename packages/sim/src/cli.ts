#!/usr/bin/env node
/**
 * kroute-sim: replay event logs through the core and the in-memory kernel, generate
 * synthetic logs, and run a cluster in a box. Data on stdout, errors and progress on
 * stderr; exit status 0 ok, 1 invariant violated or bad input, 2 usage error.
 */
import { UsageError } from "./args.ts";
import { runCluster } from "./cmd-cluster.ts";
import { runDemo } from "./cmd-demo.ts";
import { runGenerate } from "./cmd-generate.ts";
import { runReplay } from "./cmd-replay.ts";
import { boundHeapGrowth } from "./heap.ts";

const USAGE = `usage: kroute-sim <command> [options]

  demo                      replay the bundled example logs and print every node's table
  replay LOG [--node NAME] [--until SEQ] [--verbose] [--json] [--report FILE] [--jobs N]
                            run an event log through the core and the fake kernel
                            (--jobs: on N threads, dividing the nodes; same output)
  generate [--nodes N] [--routes R] [--events E] [--seed S] [--pools P]
                            write a synthetic event log to stdout
                            (defaults: 3 nodes, 10 Routes, 100 events, seed 1)
  cluster [--nodes N] [--gateways G] [--report FILE] [--fake] [ROUTES.yaml ...]
                            a cluster in a box (network namespaces, real agents; needs root,
                            else, or with --fake, the same scenario on fake kernels)
                            (defaults: 2 nodes, 3 gateways)
`;

type Command = (argv: readonly string[]) => Promise<number>;

const commands: Record<string, Command> = {
  cluster: runCluster,
  demo: runDemo,
  generate: runGenerate,
  replay: runReplay,
};

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(`kroute-sim: unknown command ${JSON.stringify(name)}\n${USAGE}`);
    return 2;
  }
  // `kroute-sim replay --help` is how a user asks what replay takes (what follows `--` is data).
  const options = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (options.includes("--help") || options.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    return await command(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`kroute-sim ${name}: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

// A reader that stops early (`| head`) is not an error: stop writing, as Unix tools do.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});
boundHeapGrowth();
process.exitCode = await main(process.argv.slice(2));
