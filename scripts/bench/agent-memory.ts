/**
 * `pnpm bench agent-memory`: resident memory of the real kroute-agent process with
 * 10,000 destinations programmed (1,000 Routes of 10 destinations) and after it has
 * been idle, against the Kubernetes API double (in this process, over HTTPS as a real
 * API server) and a real kernel in a fresh network namespace. Without root it runs the agent with --dry-run in this
 * namespace instead (computes everything, writes nothing) and says so.
 *
 * It measures what the image ships: the bundle (packages/agent/src/deploy/bundle.ts),
 * built into packages/agent/dist at the start of the run, with the V8 flags and the
 * malloc arena limit the Helm chart sets (values.yaml `nodeOptions` and
 * `mallocArenaMax`; KROUTE_BENCH_NODE_FLAGS and KROUTE_BENCH_MALLOC_ARENA_MAX override
 * them).
 *
 * Peers in the same run: the same agent run from its TypeScript sources (how tests and
 * the simulator's cluster run it), and a bare `node` process (the runtime's own floor),
 * so the agent's own cost is visible. Three runs of each form (KROUTE_BENCH_RUNS),
 * alternating; medians. For scale: DigitalOcean's Python operator was given 512 MiB
 * for 2,000 CIDRs. Target: under 100 MiB.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bundleAgent } from "../../packages/agent/src/deploy/bundle.ts";
import { createKubeApiDouble, type KubeApiDouble } from "../../packages/lab/src/kube-api/index.ts";
import { createNetns, type Netns } from "../../packages/lab/src/netns.ts";
import { freePort } from "../../packages/testkit/src/free-port.ts";
import { median } from "./lib/stats.ts";

const isRoot = process.getuid?.() === 0;

const ROUTES = Number(process.env.KROUTE_BENCH_ROUTES ?? 1000);
const PER_ROUTE = 10;
const DESTINATIONS = ROUTES * PER_ROUTE;
const IDLE_MS = Number(process.env.KROUTE_BENCH_IDLE_MS ?? 20_000);
const RUNS = Number(process.env.KROUTE_BENCH_RUNS ?? 3);
const sourceBin = resolve(import.meta.dirname, "../../packages/agent/src/main.ts");

function rssMib(pid: number, field: "VmRSS" | "VmHWM" = "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return Math.round((kb / 1024) * 10) / 10;
}

const chartValues = readFileSync(
  resolve(import.meta.dirname, "../../deploy/helm/kroute/values.yaml"),
  "utf8",
);

/** The V8 flags the Helm chart gives the agent (values.yaml `nodeOptions`): measure what ships. */
function shippedNodeOptions(): string {
  return /^nodeOptions:\s*"([^"]*)"/m.exec(chartValues)?.[1] ?? "";
}

/** The chart's MALLOC_ARENA_MAX (values.yaml `mallocArenaMax`; empty: glibc's default). */
function shippedMallocArenaMax(): string {
  return /^mallocArenaMax:[ \t]*"?(\d*)"?/m.exec(chartValues)?.[1] ?? "";
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function programmed(metricsPort: number, healthPort: number): Promise<number> {
  try {
    if ((await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status !== 200) return -1;
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return Number(/kroute_routes\{state="programmed"\} (\d+)/.exec(text)?.[1] ?? -1);
  } catch {
    return -1; // not listening yet
  }
}

async function baselineNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  await sleep(1000);
  const rss = rssMib(child.pid ?? 0);
  child.kill();
  return rss;
}

/** The test certificate of the agent's HTTPS tests: the agent talks TLS to the API double, as to a real API server. */
const tlsDir = resolve(import.meta.dirname, "../../packages/agent/test/kube/tls");
const apiTls = {
  key: readFileSync(join(tlsDir, "api-server.key"), "utf8"),
  cert: readFileSync(join(tlsDir, "api-server.crt"), "utf8"),
};

/** A fresh API double holding the bench's Node and Routes (a fresh one per agent run: no status carried over). */
async function seededApi(): Promise<KubeApiDouble> {
  const api = await createKubeApiDouble({ bookmarkIntervalMs: 60_000, tls: apiTls });
  api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "bench-node", labels: { pool: "a" } } });
  for (let r = 0; r < ROUTES; r++) {
    const destinations = Array.from({ length: PER_ROUTE }, (_, d) => {
      const n = r * PER_ROUTE + d;
      return `10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/32`;
    });
    api.apply({
      apiVersion: "networking.kroute.dev/v1alpha1",
      kind: "Route",
      metadata: { name: `route-${r}` },
      spec: { destinations, gateways: r % 2 === 0 ? ["10.0.0.3", "10.0.0.4"] : ["10.0.0.4"], probe: false },
    });
  }
  return api;
}

interface Measurement {
  readonly rss: number;
  readonly idle: number;
  readonly peak: number;
  readonly programSeconds: number;
}

/**
 * Starts the agent `bin` against a fresh API double (and, as root, a fresh namespace),
 * waits until every destination is programmed, and measures it then and after IDLE_MS.
 */
async function measure(bin: string, nodeFlags: readonly string[]): Promise<Measurement> {
  const api = await seededApi();
  const kubeconfig = join(tmpdir(), `kroute-bench-kubeconfig-${process.pid}.json`);
  let ns: Netns | undefined;
  let child: ChildProcess | undefined;
  try {
    writeFileSync(kubeconfig, api.kubeconfig());
    const args = [bin, `--kubeconfig=${kubeconfig}`, "--log-level=warn", "--resolv-conf=/nonexistent"];
    if (isRoot) {
      ns = await createNetns("kr-bench");
      await ns.ipBatch([
        "link add eth0 type veth peer name uplink0",
        "link set uplink0 up",
        "link set eth0 up",
        "addr add 10.0.0.5/24 dev eth0",
        "route add default via 10.0.0.1 dev eth0 metric 100",
      ]);
      args.push(`--netns=${ns.name}`);
    } else {
      args.push("--dry-run");
    }
    const healthPort = await freePort();
    const metricsPort = await freePort();
    args.push(`--health-address=127.0.0.1:${healthPort}`, `--metrics-address=127.0.0.1:${metricsPort}`);

    const started = performance.now();
    child = spawn(process.execPath, [...nodeFlags, ...args], {
      env: { ...process.env, ...mallocEnv(), NODE_NAME: "bench-node" },
      stdio: "inherit",
    });
    const pid = child.pid ?? 0;
    while ((await programmed(metricsPort, healthPort)) < DESTINATIONS) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`agent exited (${child.exitCode ?? child.signalCode})`);
      }
      if (performance.now() - started > 300_000)
        throw new Error("agent did not program 10,000 destinations in 5 min");
      await sleep(200);
    }
    const programSeconds = (performance.now() - started) / 1000;
    if (ns !== undefined) {
      const count = (await ns.ip("route", "show", "proto", "201")).trim().split("\n").length;
      if (count < DESTINATIONS)
        throw new Error(`kernel holds ${count} kroute routes, expected ${DESTINATIONS}`);
    }
    const rss = rssMib(pid);
    if (process.env.KROUTE_BENCH_DEBUG === "1") {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      console.error(
        text
          .split("\n")
          .filter((l) => /heap_size|external|gc_duration_seconds_sum/.test(l) && !l.startsWith("#"))
          .join("\n"),
      );
    }
    const peak = rssMib(pid, "VmHWM");
    await sleep(IDLE_MS);
    const idle = rssMib(pid);
    // With KROUTE_BENCH_NODE_FLAGS=--heapsnapshot-signal=SIGUSR2, a heap snapshot of the idle agent.
    if (process.env.KROUTE_BENCH_SNAPSHOT === "1") {
      child.kill("SIGUSR2");
      await sleep(15_000);
    }
    return { rss, idle, peak, programSeconds };
  } finally {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((done) => child?.once("exit", done));
      child.kill("SIGTERM");
      await exited;
    }
    await ns?.destroy();
    await api.close();
    rmSync(kubeconfig, { force: true });
  }
}

/** Each measurement's median over the runs, rounded to 0.1. */
function medians(runs: readonly Measurement[]): Measurement {
  const of = (pick: (m: Measurement) => number) => Math.round(median(runs.map(pick)) * 10) / 10;
  return {
    rss: of((m) => m.rss),
    idle: of((m) => m.idle),
    peak: of((m) => m.peak),
    programSeconds: of((m) => m.programSeconds),
  };
}

/** KROUTE_BENCH_MALLOC_ARENA_MAX overrides the chart's (empty: glibc's default). */
function mallocArenaMax(): string {
  return process.env.KROUTE_BENCH_MALLOC_ARENA_MAX ?? shippedMallocArenaMax();
}

function mallocEnv(): Record<string, string> {
  const arenas = mallocArenaMax();
  return arenas === "" ? {} : { MALLOC_ARENA_MAX: arenas };
}

async function main(): Promise<void> {
  const mode = isRoot ? "kernel" : "dry-run";
  if (!isRoot) console.error("agent-memory: not root, so the agent runs with --dry-run (no kernel writes)");
  const bundle = await bundleAgent();
  const nodeFlags = (process.env.KROUTE_BENCH_NODE_FLAGS ?? shippedNodeOptions())
    .split(" ")
    .filter((f) => f !== "");
  // Alternating, so that a noisy stretch of the machine falls on both forms.
  const shippedRuns: Measurement[] = [];
  const sourceRuns: Measurement[] = [];
  for (let run = 0; run < RUNS; run++) {
    shippedRuns.push(await measure(bundle, nodeFlags));
    sourceRuns.push(await measure(sourceBin, nodeFlags));
  }
  const shipped = medians(shippedRuns);
  const fromSources = medians(sourceRuns);
  const baseline = await baselineNodeRss();
  console.error(
    `agent-memory (${mode}), medians of ${RUNS} runs: ${DESTINATIONS} destinations programmed in ${shipped.programSeconds} s; ` +
      `RSS ${shipped.rss} MiB (peak ${shipped.peak}), after ${IDLE_MS / 1000} s idle ${shipped.idle} MiB; ` +
      `from sources ${fromSources.rss} MiB, idle ${fromSources.idle} MiB; bare node ${baseline} MiB`,
  );
  console.log(
    JSON.stringify({
      bench: "agent-memory",
      destinations: DESTINATIONS,
      rss_mib: shipped.rss,
      idle_rss_mib: shipped.idle,
      peak_rss_mib: shipped.peak,
      sources_rss_mib: fromSources.rss,
      sources_idle_rss_mib: fromSources.idle,
      rss_ratio_vs_sources: Math.round((shipped.rss / fromSources.rss) * 100) / 100,
      idle_ratio_vs_sources: Math.round((shipped.idle / fromSources.idle) * 100) / 100,
      bare_node_rss_mib: baseline,
      runs: RUNS,
      mode,
      node_flags: nodeFlags.join(" "),
      malloc_arena_max: mallocArenaMax() === "" ? null : Number(mallocArenaMax()),
      program_s: shipped.programSeconds,
    }),
  );
}

await main();
