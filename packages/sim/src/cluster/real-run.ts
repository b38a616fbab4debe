/**
 * The cluster in a box on real kernels (root): network namespaces for nodes, gateways,
 * a router and "the internet"; the Kubernetes API test double; one real agent process
 * per node (`kroute-agent --netns …`, recording its events); the Routes applied through
 * the API; then the static egress IP seen by a UDP echo server, a gateway failure and
 * its recovery. Afterwards each agent's recording is replayed in the simulator and must
 * give the table that agent's kernel holds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_SETTINGS, decodeLine } from "@kroute/core";
import type { KubeApiDouble, UdpEchoServer } from "@kroute/lab";
import { replayFile } from "../cmd-replay.ts";
import { type JsonRoute, renderJson } from "../render.ts";
import { Replayer } from "../replay.ts";
import type { Timeline } from "../timeline.ts";
import { egressProblem, expectedSources } from "./egress-check.ts";
import { kernelRoutes, kernelTableText } from "./kernel-table.ts";
import { API_SERVER, DNS, nodeLabels, type Scenario, scenarioEvents } from "./scenario.ts";
import { DESTINATIONS, EGRESS_FLOWS, egressLine, header, type Print } from "./story.ts";
import { type ClusterTopology, createClusterTopology, ECHO_PORT } from "./topology.ts";

const PROTOCOL = DEFAULT_SETTINGS.protocol;
const CONVERGE_MS = 30_000;

export interface Teardown {
  /** Called with every namespace name before it is added (may refuse it by throwing), and every child as it starts. */
  namespace(name: string): void;
  /** A namespace's creation, which the teardown lets end before removing the names. */
  creating<T>(creation: Promise<T>): Promise<T>;
  child(child: ChildProcess): void;
  /** Async cleanups, run in reverse order. */
  defer(step: () => Promise<void>): void;
}

type Tables = Record<string, JsonRoute[]>;

export interface EgressObservation {
  readonly phase: "routed" | "gw-1 down" | "gw-1 back";
  readonly node: string;
  readonly destination: string;
  /** Source address the destination saw → flows. */
  readonly via: Readonly<Record<string, number>>;
}

export interface RecordingCheck {
  readonly node: string;
  /** What the node's kernel held when its agent stopped. */
  readonly kernel: readonly JsonRoute[];
  /** What replaying the agent's recording gave. */
  readonly replayed: readonly JsonRoute[];
  readonly violations: readonly string[];
}

export interface ClusterOutcome {
  readonly egress: readonly EgressObservation[];
  readonly recordings: readonly RecordingCheck[];
  readonly failoverMs: number;
  readonly recoveryMs: number;
  /** Egress the predicted tables do not allow, recording mismatches, and invariant violations replaying the recordings. */
  readonly problems: number;
}

/** What the simulator predicts each node's table to be after the given events. */
function predict(events: Parameters<Replayer["push"]>[0][]): Tables {
  const replayer = new Replayer();
  for (const event of events) replayer.push(event);
  const results = [...replayer.nodes.values()].map((sim) => ({
    node: sim.name,
    snapshot: sim.snapshot(),
    violations: sim.violations,
  }));
  const doc = JSON.parse(renderJson(results)) as { nodes: Record<string, { routes: JsonRoute[] }> };
  return Object.fromEntries(Object.entries(doc.nodes).map(([node, v]) => [node, v.routes]));
}

/** A wait whose condition never came: the one failure that needs the kernels' tables to diagnose. */
class TimedOut extends Error {}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new TimedOut(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The last health verdict on `gateway` in a recording so far; a line still being written is skipped. */
function lastRecordedVerdict(file: string, gateway: string): boolean | undefined {
  let verdict: boolean | undefined;
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      const decoded = decodeLine(line, i + 1);
      if (decoded.kind !== "event") return;
      const { event } = decoded;
      if (event.type === "probe/result" && event.gateway === gateway) verdict = event.up;
    });
  return verdict;
}

export async function runOnRealKernels(
  s: Scenario,
  print: Print,
  timeline: Timeline,
  workDir: string,
  teardown: Teardown,
): Promise<ClusterOutcome> {
  const testkit = await import("@kroute/lab");
  header(s, "root: network namespaces, real agents, real kernels", print);

  const topology: ClusterTopology = await createClusterTopology(
    s.nodes.length,
    s.gateways.length,
    (p, onNamed) => teardown.creating(testkit.createNetns(p, onNamed)),
    (n) => teardown.namespace(n),
  );
  teardown.defer(() => topology.destroy());

  const api: KubeApiDouble = await testkit.createKubeApiDouble({ bookmarkIntervalMs: 1000 });
  teardown.defer(() => api.close());
  const kubeconfig = join(workDir, "kubeconfig.json");
  writeFileSync(kubeconfig, api.kubeconfig());
  const resolvConf = join(workDir, "resolv.conf");
  writeFileSync(resolvConf, `nameserver ${DNS}\n`);
  for (const node of s.nodes)
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: node.name, labels: nodeLabels(node) } });
  api.apply({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "kubernetes",
      namespace: "default",
      labels: { "kubernetes.io/service-name": "kubernetes" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [API_SERVER], conditions: { ready: true } }],
    ports: [{ name: "https", port: 6443, protocol: "TCP" }],
  });

  // The first part of the box that died on its own (an agent, an echo server): the run
  // stops at its next step, saying which, and everything is torn down.
  let stopping = false;
  let crashed: string | undefined;
  const watch = (child: ChildProcess, what: string, after = ""): void => {
    child.on("exit", (code, signal) => {
      if (!stopping) crashed ??= `${what} exited (${signal ?? code})${after}`;
    });
  };
  const alive = (): void => {
    if (crashed !== undefined) throw new Error(crashed);
  };

  // Each server is torn down from the moment it runs: a signal may arrive while the next starts.
  for (const destination of DESTINATIONS) {
    const echo: UdpEchoServer = await testkit.startUdpEcho(topology.internet, destination, ECHO_PORT, (c) => {
      teardown.child(c);
      watch(c, `echo server of ${destination}`);
    });
    teardown.defer(() => echo.stop());
  }

  // One agent process per node, each in its node's namespace, recording what it consumes.
  // Beside the package's entry, with its extension: src/main.ts in the repository, lib/main.js installed.
  const agentEntry = import.meta.resolve("@kroute/agent");
  const agentMain = fileURLToPath(new URL(`./main${extname(agentEntry)}`, agentEntry));
  const agents = new Map<string, ChildProcess>();
  for (const node of topology.nodes) {
    const log = openSync(join(workDir, `${node.name}.agent.log`), "a");
    const child = spawn(
      process.execPath,
      [
        agentMain,
        `--netns=${node.ns.name}`,
        `--kubeconfig=${kubeconfig}`,
        `--resolv-conf=${resolvConf}`,
        "--health-address=127.0.0.1:0",
        "--metrics-address=127.0.0.1:0",
        "--probe-interval=200ms",
        "--probe-timeout=200ms",
        "--probe-fall=3",
        "--probe-rise=2",
        `--record=${join(workDir, `${node.name}.jsonl`)}`,
        "--log-level=warn",
      ],
      { env: { ...process.env, NODE_NAME: node.name }, stdio: ["ignore", log, log] },
    );
    teardown.child(child);
    watch(child, `agent of ${node.name}`, `; see ${join(workDir, `${node.name}.agent.log`)}`);
    agents.set(node.name, child);
  }
  const stopAgents = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      [...agents.values()].map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  };
  teardown.defer(stopAgents);

  const events = scenarioEvents(s);
  const readAll = async (): Promise<Tables> => {
    alive();
    const tables: Tables = {};
    for (const node of topology.nodes) tables[node.name] = await kernelRoutes(node.ns, PROTOCOL);
    return tables;
  };
  // The table the kernels last converged to, by the simulator: what the egress is judged by.
  let predicted: Tables = {};
  let egressProblems = 0;
  const converge = async (expected: Tables, what: string): Promise<number> => {
    predicted = expected;
    const start = Date.now();
    await waitFor(what, CONVERGE_MS, async () => {
      const tables = await readAll();
      return JSON.stringify(tables) === JSON.stringify(expected) ? tables : undefined;
    }).catch(async (error: unknown) => {
      // Anything else (an agent that died, a table read cut short by Ctrl-C) is said once by
      // the caller; reading the tables again would only fail the same way, mid-sentence.
      if (!(error instanceof TimedOut)) throw error;
      print(`!! ${error.message}; the kernels hold:`);
      print(JSON.stringify(await readAll()));
      print("   and the simulator predicted:");
      print(JSON.stringify(expected));
      throw error;
    });
    return Date.now() - start;
  };
  // With every route's gateways down the kernel keeps the routes, so a table can be
  // right before the agent has seen the change: the recordings (what the report and
  // the replay read) must show each agent's verdict on gw-1 too.
  const recorded = async (up: boolean, what: string): Promise<void> => {
    await waitFor(what, CONVERGE_MS, async () => {
      alive();
      const verdicts = topology.nodes.map((node) =>
        lastRecordedVerdict(join(workDir, `${node.name}.jsonl`), s.gateways[0] as string),
      );
      return verdicts.every((v) => v === up) ? true : undefined;
    });
  };
  const tables = async (): Promise<void> => {
    for (const node of topology.nodes) {
      print(`== ${node.name} (${node.pool}): ip route show table all proto ${PROTOCOL}`);
      for (const line of await kernelTableText(node.ns, PROTOCOL)) print(line);
      print("");
    }
  };
  const observed: EgressObservation[] = [];
  // A sender still running when the run is torn down is stopped, and waited for, first.
  const stopSending = new AbortController();
  let sending: Promise<unknown> = Promise.resolve();
  teardown.defer(async () => {
    stopSending.abort();
    await sending.catch(() => undefined);
  });
  const egress = async (phase: EgressObservation["phase"]): Promise<void> => {
    for (const node of topology.nodes) {
      for (const destination of DESTINATIONS) {
        const send = testkit.sendUdpFlows(node.ns, destination, ECHO_PORT, {
          count: EGRESS_FLOWS,
          timeoutMs: 1000,
          signal: stopSending.signal,
        });
        sending = send;
        const flows = await send;
        alive(); // flows unanswered because a server died are that death, not a routing result
        observed.push({ phase, node: node.name, destination, via: flows.via });
        print(egressLine(s, node.name, destination, flows.via, flows.sent));
        const dead = new Set(phase === "gw-1 down" ? [s.gateways[0] as string] : []);
        const expected = expectedSources(s, node, predicted[node.name] ?? [], destination, dead);
        const problem = egressProblem(expected, flows.via);
        if (problem !== undefined) {
          egressProblems++;
          print(`!! ${node.name} → ${destination}: ${problem}`);
        }
      }
    }
    print("");
  };

  print("## 1. Routes applied through the API; agents program their kernels");
  for (const route of s.routes) api.apply(route as unknown as Record<string, unknown>);
  const settled = await converge(
    predict(events.setup),
    "every node's table to match the simulator's prediction",
  );
  print(
    `every node's kernel matches the simulator's prediction (${(settled / 1000).toFixed(1)} s after the Routes were applied)`,
  );
  print("");
  await tables();
  print("## 2. Static egress IP: the source address the destination saw (8 UDP flows each)");
  await egress("routed");

  print(`## 3. gw-1 (${s.gateways[0]}) fails: it drops every packet, its link stays up`);
  await topology.kill(1);
  const failStart = Date.now();
  await converge(predict([...events.setup, ...events.fail]), "the failover");
  await recorded(false, "every agent to record gw-1 down");
  const failover = Date.now() - failStart;
  print(
    `failover: every agent saw gw-1 down, and every kernel stopped using it, within ${(failover / 1000).toFixed(1)} s (probes every 200 ms, 3 failures to down)`,
  );
  print("");
  await tables();
  await egress("gw-1 down");

  print("## 4. gw-1 recovers");
  await topology.recover(1);
  const recoverStart = Date.now();
  await converge(predict([...events.setup, ...events.fail, ...events.recover]), "the recovery");
  await recorded(true, "every agent to record gw-1 up again");
  const recovery = Date.now() - recoverStart;
  print(
    `recovery: every agent saw gw-1 up, and gw-1 was back in every node's set, within ${(recovery / 1000).toFixed(1)} s`,
  );
  print("");
  await egress("gw-1 back");

  print("## 5. Each agent's recording (--record) replayed in the simulator");
  const held = await readAll();
  await stopAgents(); // SIGTERM keeps the routes: the kernels still hold them
  const recordings: RecordingCheck[] = [];
  let problems = egressProblems;
  for (const node of topology.nodes) {
    const run = await replayFile(join(workDir, `${node.name}.jsonl`), { report: timeline.enabled, timeline });
    const doc = JSON.parse(renderJson(run.results.filter((r) => r.node === node.name))) as {
      nodes: Record<string, { routes: JsonRoute[]; violations: string[] }>;
    };
    const replayed = doc.nodes[node.name]?.routes ?? [];
    const violations = doc.nodes[node.name]?.violations ?? [];
    const kernel = held[node.name] ?? [];
    const same = JSON.stringify(replayed) === JSON.stringify(kernel);
    recordings.push({ node: node.name, kernel, replayed, violations });
    problems += violations.length + (same ? 0 : 1);
    print(
      same
        ? `${node.name}: the replay gives exactly the table its kernel holds (${kernel.length} routes)`
        : `!! ${node.name}: the replay differs from its kernel: replay ${JSON.stringify(replayed)} kernel ${JSON.stringify(kernel)}`,
    );
    for (const v of violations) print(`!! ${node.name}: replaying its recording: ${v}`);
  }
  return { egress: observed, recordings, failoverMs: failover, recoveryMs: recovery, problems };
}
