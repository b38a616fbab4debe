/** The real `kroute-agent` bin as a child process against a World, its output kept for the test. */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "@kroute/testkit";
import { expect } from "vitest";
import { eventually, NODE, type World } from "./e2e-support.ts";

export const sourceBin = resolve(import.meta.dirname, "../../src/main.ts");

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly node: string;
  readonly [field: string]: unknown;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** stdout, one JSON object a line (throws on a line that is not JSON). */
  logLines(): LogLine[];
  /** The exit status, or the signal that ended the process. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** Resolves once /readyz answers 200. */
  ready(): Promise<void>;
}

export interface AgentProcessOptions {
  readonly bin?: string;
  /** Flags added to the usual ones (namespace, kubeconfig, loopback ports, resolv.conf). */
  readonly args?: readonly string[];
  /** Options for node itself, before the bin (`--import=...`). */
  readonly nodeArgs?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

export async function spawnAgent(world: World, options: AgentProcessOptions = {}): Promise<AgentProcess> {
  const kubeconfig = join(tmpdir(), `kroute-kubeconfig-${world.ns.name}.json`);
  writeFileSync(kubeconfig, world.api.kubeconfig());
  const port = await freePort();
  let stdout = "";
  let stderr = "";
  const child = spawn(
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      options.bin ?? sourceBin,
      `--netns=${world.ns.name}`,
      `--kubeconfig=${kubeconfig}`,
      `--health-address=127.0.0.1:${port}`,
      "--metrics-address=127.0.0.1:0",
      `--resolv-conf=${world.resolvConf}`,
      ...(options.args ?? []),
    ],
    { env: { ...process.env, NODE_NAME: NODE, ...options.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  // On "close", not "exit": by then the output pipes have been read to their end.
  const exited = new Promise<number | NodeJS.Signals>((done) =>
    child.once("close", (code, signal) => done(code ?? (signal as NodeJS.Signals))),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    logLines: () =>
      stdout
        .trim()
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as LogLine),
    exited,
    // Bounds a hang only: started from the sources on a loaded machine, the agent has
    // taken longer than 15 s to load its modules and answer.
    ready: () =>
      eventually(async () => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        expect(response.status).toBe(200);
      }, 60_000),
  };
}
