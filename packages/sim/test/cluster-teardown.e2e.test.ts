/**
 * `kroute-sim cluster` as a user runs it (a child process), interrupted: Ctrl-C, and
 * one of its agents dying under it. Either way nothing it created may outlive it: no
 * network namespace, no agent or echo-server process, no temp directory (except the
 * agent logs it names on a failure).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));

interface Run {
  readonly child: ChildProcess;
  readonly output: { stdout: string; stderr: string };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startCluster(...args: string[]): Run {
  return startClusterWith(process.env, ...args);
}

function startClusterWith(env: NodeJS.ProcessEnv, ...args: string[]): Run {
  // Its own process group, so that a SIGINT to the group is what a terminal's Ctrl-C sends.
  const child = spawn(process.execPath, [CLI, "cluster", ...args], {
    detached: true,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout?.on("data", (d: Buffer) => {
    output.stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output.stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  return { child, output, exited };
}

function parentOf(pid: number): number | undefined {
  try {
    // "pid (comm) state ppid …"; comm may hold spaces, so parse after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) has gone as far as it can.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** The processes still alive, with their command lines, so that a failure says which. */
function survivors(pids: readonly number[]): string[] {
  return pids.filter(alive).map((pid) => `${pid}: ${cmdline(pid).join(" ")}`);
}

function descendants(root: number): number[] {
  const pids = readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length > 0) {
    const parent = frontier.pop() as number;
    for (const pid of pids)
      if (parentOf(pid) === parent) {
        found.push(pid);
        frontier.push(pid);
      }
  }
  return found;
}

interface Agent {
  readonly pid: number;
  readonly netns: string;
  readonly workDir: string;
}

/** The run's agents (children started with --netns), once `count` of them are running. */
async function waitForAgents(run: Run, count: number): Promise<Agent[]> {
  const pid = run.child.pid as number;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const agents = descendants(pid).flatMap((p): Agent[] => {
      const args = cmdline(p);
      const netns = args.find((a) => a.startsWith("--netns="))?.slice("--netns=".length);
      const kubeconfig = args.find((a) => a.startsWith("--kubeconfig="))?.slice("--kubeconfig=".length);
      return netns === undefined || kubeconfig === undefined
        ? []
        : [{ pid: p, netns, workDir: kubeconfig.replace(/\/kubeconfig\.json$/, "") }];
    });
    if (agents.length >= count) return agents.sort((a, b) => (a.netns < b.netns ? -1 : 1));
    if (run.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`no ${count} agents running; stderr: ${run.output.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForOutput(run: Run, text: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!run.output.stdout.includes(text)) {
    if (run.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`no ${JSON.stringify(text)} on stdout; stderr: ${run.output.stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitForProcess(run: Run, match: (args: string[]) => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!descendants(run.child.pid as number).some((p) => match(cmdline(p)))) {
    if (run.child.exitCode !== null || Date.now() > deadline)
      throw new Error(`no such process; stderr: ${run.output.stderr}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Every namespace of the run: from its nodes' namespaces, the peers of their veths
 * (the LAN), and theirs (router, gateways), and theirs (the internet). Other tests may
 * build the same kinds of namespaces at the same time, so names alone do not tell.
 */
function clusterNamespaces(start: readonly string[]): string[] {
  const seen = new Set(start);
  const frontier = [...start];
  while (frontier.length > 0) {
    const ns = frontier.pop() as string;
    const ids = new Map<number, string>();
    for (const line of execFileSync("ip", ["-n", ns, "netns", "list"], { encoding: "utf8" }).split("\n")) {
      const m = /^(\S+) \(id: (\d+)\)/.exec(line);
      if (m !== null) ids.set(Number(m[2]), m[1] as string);
    }
    const links = JSON.parse(
      execFileSync("ip", ["-n", ns, "-json", "link", "show"], { encoding: "utf8" }),
    ) as {
      link_netnsid?: number;
    }[];
    for (const link of links) {
      const peer = link.link_netnsid === undefined ? undefined : ids.get(link.link_netnsid);
      if (peer !== undefined && !seen.has(peer)) {
        seen.add(peer);
        frontier.push(peer);
      }
    }
  }
  return [...seen].sort();
}

function netnsList(): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0] as string)
    .filter(Boolean);
}

/** Nothing of a run is left: its namespaces, its processes, its work directory. */
function expectAllGone(namespaces: readonly string[], processes: readonly number[], workDir: string): void {
  const left = netnsList();
  for (const ns of namespaces) expect(left).not.toContain(ns);
  expect(survivors(processes)).toEqual([]);
  expect(existsSync(workDir)).toBe(false);
}

describeAsRoot("cluster: Ctrl-C and a crashed agent tear everything down", () => {
  it.each([
    ["SIGINT", "the command alone (kill -INT)", false, 130],
    [
      "SIGINT",
      "its process group, as a terminal's Ctrl-C does (agents and echo servers get it too)",
      true,
      130,
    ],
    ["SIGHUP", "the command alone, as a closed terminal does", false, 129],
  ] as const)(
    "on %s to %s: removes every namespace, process and the temp dir, exits 128+signal, blames nothing else",
    async (signal, _, group, exitCode) => {
      const run = startCluster("--nodes", "1", "--gateways", "1");
      try {
        const agents = await waitForAgents(run, 1);
        const namespaces = clusterNamespaces(agents.map((a) => a.netns));
        // node, LAN, router, internet, one gateway.
        expect(namespaces.map((n) => n.replace(/-[0-9a-f]{8}$/, ""))).toEqual([
          "kr-gw1",
          "kr-inet",
          "kr-lan",
          "kr-node1",
          "kr-rtr",
        ]);
        const workDir = agents[0]?.workDir as string;
        expect(existsSync(workDir)).toBe(true);
        // Mid-run: the kernels are programmed, and UDP flows are being sent inside the node's namespace.
        await waitForOutput(run, "## 2. Static egress IP");
        await waitForProcess(run, (args) => args.includes("send"));
        const processes = descendants(run.child.pid as number);
        expect(processes.length).toBeGreaterThanOrEqual(5); // the agent, three echo servers, a sender

        process.kill(group ? -(run.child.pid as number) : (run.child.pid as number), signal);
        const { code } = await run.exited;
        // What the interrupted run then trips over (a namespace gone, an agent stopped) is no failure to report.
        expect(run.output.stderr.trim().split("\n")).toEqual([
          `kroute-sim cluster: ${signal}: tearing everything down`,
        ]);
        expect(code).toBe(exitCode);
        expectAllGone(namespaces, processes, workDir);
      } finally {
        if (run.child.exitCode === null) run.child.kill("SIGKILL");
      }
    },
    60_000,
  );

  it.each([
    ["the command alone (kill -INT): its teardown must wait for the add", "kr-lan-", false],
    [
      "its process group, as a terminal's Ctrl-C does: ip dies half way, its namespace added",
      "kr-lan-",
      true,
    ],
    ["the command alone, during the check that namespaces can be made (as root)", "kr-check-", false],
    ["its process group, during the check that namespaces can be made", "kr-check-", true],
  ] as const)(
    "on SIGINT to %s while a namespace is being added, removes that namespace too",
    async (_, prefix, group) => {
      // An `ip` in front of the real one: it adds the namespace (the LAN's, or the root
      // check's), then says its name and lingers, as an add caught mid-way by the signal
      // (the window is milliseconds with the real ip alone; a Ctrl-C there left it behind).
      const bin = mkdtempSync(join(tmpdir(), "kroute-slow-ip-"));
      const mark = join(bin, "adding");
      const realIp = execFileSync("sh", ["-c", "command -v ip"], { encoding: "utf8" }).trim();
      writeFileSync(
        join(bin, "ip"),
        [
          "#!/bin/sh",
          'case "$1 $2 $3" in',
          `"netns add ${prefix}"*) ${realIp} "$@" || exit; echo "$3 $$" > ${mark}.tmp; mv ${mark}.tmp ${mark}; sleep 1 ;;`,
          `*) exec ${realIp} "$@" ;;`,
          "esac",
        ].join("\n"),
      );
      chmodSync(join(bin, "ip"), 0o755);
      let lan: string | undefined;
      const run = startClusterWith(
        { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        "--nodes",
        "1",
        "--gateways",
        "1",
      );
      try {
        const deadline = Date.now() + 60_000;
        while (!existsSync(mark)) {
          if (run.child.exitCode !== null || Date.now() > deadline)
            throw new Error(`no namespace being added; stderr: ${run.output.stderr}`);
          await new Promise((r) => setTimeout(r, 10));
        }
        const [name, ipPid] = readFileSync(mark, "utf8").trim().split(" ") as [string, string];
        lan = name;
        expect(netnsList()).toContain(lan);

        process.kill(group ? -(run.child.pid as number) : (run.child.pid as number), "SIGINT");
        const { code } = await run.exited;
        expect(code).toBe(130);
        expect(run.output.stderr.trim().split("\n")).toEqual([
          "kroute-sim cluster: SIGINT: tearing everything down",
        ]);
        // The add may outlive the command only if the command leaves it behind: let it end first.
        while (alive(Number(ipPid))) await new Promise((r) => setTimeout(r, 20));
        expect(netnsList()).not.toContain(lan);
      } finally {
        if (run.child.exitCode === null) run.child.kill("SIGKILL");
        rmSync(bin, { recursive: true, force: true });
        // Failing, the test must not leave it behind either.
        if (lan !== undefined && netnsList().includes(lan)) execFileSync("ip", ["netns", "del", lan]);
      }
    },
  );

  it("when its reader stops early (| head), removes every namespace, process and the temp dir", async () => {
    const run = startCluster("--nodes", "1", "--gateways", "1");
    try {
      const agents = await waitForAgents(run, 1);
      const namespaces = clusterNamespaces(agents.map((a) => a.netns));
      const workDir = agents[0]?.workDir as string;
      await waitForOutput(run, "## 2. Static egress IP");
      await waitForProcess(run, (args) => args.includes("send"));
      const processes = descendants(run.child.pid as number);
      expect(processes.filter((p) => cmdline(p).includes("serve"))).toHaveLength(3); // the echo servers
      // The next line printed meets a closed pipe: EPIPE, and the command exits from there.
      run.child.stdout?.destroy();
      await run.exited;
      expectAllGone(namespaces, processes, workDir);
    } finally {
      if (run.child.exitCode === null) run.child.kill("SIGKILL");
    }
  });

  it("when an agent dies, says which and where its log is, and tears everything else down", async () => {
    const run = startCluster("--nodes", "2", "--gateways", "1");
    let workDir: string | undefined;
    try {
      const agents = await waitForAgents(run, 2);
      const namespaces = clusterNamespaces(agents.map((a) => a.netns));
      expect(namespaces).toHaveLength(6);
      const processes = descendants(run.child.pid as number);
      const [victim] = agents;
      workDir = victim?.workDir as string;
      expect(victim?.netns).toMatch(/^kr-node1-/);

      process.kill(victim?.pid as number, "SIGKILL");
      const { code } = await run.exited;
      expect(code).toBe(1);
      expect(run.output.stderr).toContain(
        `kroute-sim cluster: agent of node-1 exited (SIGKILL); see ${workDir}/node-1.agent.log`,
      );
      expect(run.output.stdout).not.toContain("cluster: every check held");
      // Said once, on stderr: no half diagnosis on stdout ("…; the kernels hold:" and nothing after).
      expect(run.output.stdout).not.toMatch(/^!!/m);
      const left = netnsList();
      for (const ns of namespaces) expect(left).not.toContain(ns);
      // node-2's agent and the echo servers too.
      expect(survivors(processes)).toEqual([]);
      // On a failure the agents' logs are kept, where the message says.
      expect(existsSync(`${workDir}/node-1.agent.log`)).toBe(true);
    } finally {
      if (run.child.exitCode === null) run.child.kill("SIGKILL");
      if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    }
  });
  it("when an echo server dies, says which, fails the run and tears everything else down", async () => {
    const run = startCluster("--nodes", "1", "--gateways", "1");
    let workDir: string | undefined;
    try {
      const agents = await waitForAgents(run, 1);
      const namespaces = clusterNamespaces(agents.map((a) => a.netns));
      workDir = agents[0]?.workDir as string;
      await waitForProcess(run, (args) => args.includes("serve") && args.includes("192.0.2.10"));
      const processes = descendants(run.child.pid as number);
      const echo = processes.find((p) => cmdline(p).includes("serve") && cmdline(p).includes("203.0.113.10"));
      expect(echo).toBeDefined();

      process.kill(echo as number, "SIGKILL");
      const { code } = await run.exited;
      // Its flows went unanswered: the run must not go on to say every check held.
      expect(code).toBe(1);
      expect(run.output.stderr).toContain("kroute-sim cluster: echo server of 203.0.113.10 exited (SIGKILL)");
      expect(run.output.stdout).not.toContain("cluster: every check held");
      const left = netnsList();
      for (const ns of namespaces) expect(left).not.toContain(ns);
      expect(survivors(processes)).toEqual([]);
    } finally {
      if (run.child.exitCode === null) run.child.kill("SIGKILL");
      if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    }
  });
});
