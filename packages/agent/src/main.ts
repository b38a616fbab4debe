#!/usr/bin/env node
/**
 * kroute-agent: the DaemonSet process.
 *
 *   kroute-agent [flags]          run the agent until SIGTERM (routes stay in place)
 *   kroute-agent cleanup [flags]  remove everything kroute owns on this node
 *
 * Exit status: 0 on a clean stop, 2 for bad settings (named on stderr), including a
 * setting the kernel turns out not to support, 128 + the signal's number for a second
 * signal during the stop, 1 otherwise (a failed start, a bug, a stop that overran):
 * process-end.ts.
 */
// Heavy modules (the Kubernetes client, the FFI driver) load only after the settings
// are valid, so a typo in a flag is answered at once.
import type { AgentHandle } from "./runtime/agent.ts";
import { favourMemoryOverSpeed } from "./runtime/v8-memory.ts";
import { parseAgentSettings, parseCleanupSettings, SettingsError, USAGE } from "./settings.ts";

function reportSettingsError(error: SettingsError): number {
  process.stderr.write(`kroute-agent: ${error.message}\n(run kroute-agent --help for every flag)\n`);
  return 2;
}

function settingsOrExit<T>(parse: () => T): T | number {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    return reportSettingsError(error);
  }
}

async function runCleanup(argv: readonly string[]): Promise<number> {
  const settings = settingsOrExit(() => parseCleanupSettings(argv, process.env));
  if (typeof settings === "number") return settings;
  const { createNetlinkDataplane } = await import("@kroute/driver-netlink");
  const { cleanup } = await import("./cleanup.ts");
  const dataplane = await createNetlinkDataplane(
    settings.netns !== undefined ? { netns: settings.netns } : {},
  );
  try {
    const report = await cleanup(dataplane, settings);
    const failed = report.results.filter((r) => !r.ok);
    for (const [i, op] of report.ops.entries()) {
      const result = report.results[i];
      const outcome = settings.dryRun
        ? "would delete"
        : result?.ok
          ? "deleted"
          : `FAILED (${result?.ok === false ? result.message : "no result"})`;
      const target = op.action === "delete" ? op.from : op.to;
      process.stdout.write(`${outcome} ${op.object} ${JSON.stringify(target)}\n`);
    }
    for (const { nexthop, usedBy } of report.kept) {
      process.stdout.write(`kept nexthop ${JSON.stringify(nexthop)}: used by ${usedBy.join(", ")}\n`);
    }
    const kept = report.kept.length === 0 ? "" : `, ${report.kept.length} kept for others' routes and groups`;
    process.stdout.write(
      `${report.ops.length} kroute objects ${settings.dryRun ? "found" : "removed"}, ${failed.length} failed${kept}\n`,
    );
    return failed.length === 0 && report.kept.length === 0 ? 0 : 1;
  } finally {
    await dataplane.close();
  }
}

/** Below the DaemonSet's terminationGracePeriodSeconds (15), so that the agent ends its stop itself. */
const STOP_DEADLINE_MS = 10_000;

async function runAgent(argv: readonly string[]): Promise<number> {
  const settings = settingsOrExit(() => parseAgentSettings(argv, process.env));
  if (typeof settings === "number") return settings;
  favourMemoryOverSpeed(settings);
  const { createLogger } = await import("./log.ts");
  const { flushLog, watchProcessEnd } = await import("./process-end.ts");
  const { startAgent } = await import("./runtime/agent.ts");
  const { kubeClusterSources, loadKubeConfig } = await import("./runtime/kube-sources.ts");
  const log = createLogger({ level: settings.logLevel, node: settings.nodeName });
  const end = watchProcessEnd(log, { stopDeadlineMs: STOP_DEADLINE_MS });
  let agent: AgentHandle;
  try {
    const kc = loadKubeConfig(settings);
    agent = await startAgent(settings, {
      cluster: (metrics) => kubeClusterSources(kc, settings, metrics, log),
      logger: log,
    });
  } catch (error) {
    if (error instanceof SettingsError) throw error;
    log.fatal({ err: error }, "cannot start: %s", error instanceof Error ? error.message : String(error));
    await flushLog(log);
    return 1;
  }
  const code = await end.stopWith(() => agent.stop());
  await flushLog(log);
  return code;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === "cleanup") {
    if (rest.some((arg) => arg === "--help" || arg === "-h")) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    return runCleanup(rest);
  }
  return runAgent(argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A setting found unusable after start (e.g. by the kernel's feature probe).
    if (error instanceof SettingsError) process.exit(reportSettingsError(error));
    process.stderr.write(
      `kroute-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
