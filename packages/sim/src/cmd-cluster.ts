/**
 * `kroute-sim cluster [--nodes N] [--gateways G] [--report FILE] [ROUTES.yaml ...]`:
 * a cluster in a box, and the README's main job (`scripts/dev run`). As root: namespaces,
 * the Kubernetes API double, real agents and kernels. Otherwise (not root, or no
 * namespaces to be had) it says why and runs the same scenario on fake kernels.
 * Everything it creates is torn down at the end, on Ctrl-C, and when any part crashes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";
import { intFlag, parseFlags, reportPath, UsageError } from "./args.ts";
import { Cleanup } from "./cluster/cleanup.ts";
import { runOnFakeKernels } from "./cluster/fake-run.ts";
import { whyNoNamespaces } from "./cluster/namespaces-usable.ts";
import { defaultRoutes, routesFromYaml } from "./cluster/routes.ts";
import { scenario } from "./cluster/scenario.ts";
import { MAX_GATEWAYS, MAX_NODES } from "./cluster/topology.ts";
import { renderReport } from "./report.ts";
import { Timeline } from "./timeline.ts";

/** Signals that end a cluster run with a full teardown: Ctrl-C, kill, a closed terminal, Ctrl-\\. */
const TEARDOWN_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;

export async function runCluster(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    nodes: { type: "string" },
    gateways: { type: "string" },
    report: { type: "string" },
    fake: { type: "boolean" },
  });
  const nodes = intFlag(values, "nodes", 2, 1);
  const gateways = intFlag(values, "gateways", 3, 1);
  if (nodes > MAX_NODES) throw new UsageError(`--nodes must be at most ${MAX_NODES}, got ${nodes}`);
  if (gateways > MAX_GATEWAYS)
    throw new UsageError(`--gateways must be at most ${MAX_GATEWAYS}, got ${gateways}`);
  const report = reportPath(values.report);
  let routes: ReturnType<typeof defaultRoutes>;
  try {
    routes =
      positionals.length > 0
        ? routesFromYaml(positionals, (warning) =>
            process.stderr.write(`kroute-sim cluster: warning: ${warning}\n`),
          )
        : defaultRoutes(gateways);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const s = scenario(nodes, gateways, routes);
  const timeline = new Timeline(report !== undefined);
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let violations: number;
  const cleanup = new Cleanup();
  let workDir: string | undefined;
  const removeWorkDir = (): void => {
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  };
  // Set on a signal: tears down, removes the work directory and exits 130; whatever the
  // interrupted run then trips over (a namespace gone, an agent that got the terminal's
  // SIGINT too) is a consequence, not a failure to report. From before the check for
  // namespaces, which makes one: a Ctrl-C there left it behind.
  let interrupted: Promise<never> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted !== undefined) return; // a second Ctrl-C must not cut the teardown short
    process.stderr.write(`\nkroute-sim cluster: ${signal}: tearing everything down\n`);
    interrupted = cleanup.run().then(() => {
      removeWorkDir();
      return process.exit(128 + constants.signals[signal]);
    });
  };
  // process.exit (a closed stdout, say) skips the async steps: kill, delete, remove here.
  const onExit = (): void => {
    cleanup.runSync();
    removeWorkDir();
  };
  const stopHandlingSignals = (): void => {
    for (const signal of TEARDOWN_SIGNALS) process.off(signal, onSignal);
    process.off("exit", onExit);
  };
  if (values.fake !== true) {
    for (const signal of TEARDOWN_SIGNALS) process.on(signal, onSignal);
    process.once("exit", onExit);
  }
  const whyFake = values.fake === true ? undefined : await whyNoNamespaces(cleanup);
  if (interrupted !== undefined) await interrupted;
  const real = values.fake !== true && whyFake === undefined;
  if (!real) {
    stopHandlingSignals();
    if (whyFake !== undefined)
      process.stderr.write(
        `kroute-sim cluster: ${whyFake}, so no network namespaces: running the same scenario on fake kernels\n`,
      );
    violations = runOnFakeKernels(s, print, timeline);
  } else {
    workDir = mkdtempSync(join(tmpdir(), "kroute-cluster-"));
    try {
      const { runOnRealKernels } = await import("./cluster/real-run.ts");
      violations = (await runOnRealKernels(s, print, timeline, workDir, cleanup)).problems;
      if (interrupted !== undefined) await interrupted;
    } catch (error) {
      if (interrupted !== undefined) await interrupted;
      process.stderr.write(
        `kroute-sim cluster: ${error instanceof Error ? error.message : String(error)} (agent logs and recordings in ${workDir})\n`,
      );
      await cleanup.run();
      return 1;
    } finally {
      await cleanup.run();
      stopHandlingSignals();
    }
    removeWorkDir();
  }
  if (report !== undefined) writeFileSync(report, renderReport("kroute-sim cluster", timeline));
  const torn = real ? "; everything torn down" : "";
  print(
    violations === 0
      ? `cluster: every check held${torn}.`
      : `cluster: ${violations} problems (see above)${torn}.`,
  );
  return violations === 0 ? 0 : 1;
}
