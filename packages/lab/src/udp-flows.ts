/**
 * Real traffic through a namespace topology: a UDP echo server that tells each
 * client which source address it saw (with masquerading gateways, that names the
 * gateway the flow went through), and a client sending one datagram per source port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Netns } from "./netns.ts";

// This module's own extension: .ts run from the sources, .js from a built package (lib/).
const MAIN = fileURLToPath(new URL(`./udp-echo-main${extname(import.meta.url)}`, import.meta.url));

export interface UdpEchoServer {
  stop(): Promise<void>;
}

export interface FlowsResult {
  readonly sent: number;
  readonly answered: number;
  /** Source address the server saw → number of flows. */
  readonly via: Readonly<Record<string, number>>;
}

/** `onSpawn` hears of the server's process before it is ready, for a caller that must kill it on any exit. */
export async function startUdpEcho(
  ns: Netns,
  address: string,
  port: number,
  onSpawn?: (child: ChildProcess) => void,
): Promise<UdpEchoServer> {
  const child = spawn(
    "ip",
    ["netns", "exec", ns.name, process.execPath, MAIN, "serve", address, String(port)],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  onSpawn?.(child);
  await waitForLine(child, "ready");
  return {
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Sends `count` flows (source ports firstPort, firstPort+1, ...) and counts the echoes. */
export async function sendUdpFlows(
  ns: Netns,
  address: string,
  port: number,
  options: { count: number; timeoutMs?: number; firstPort?: number; signal?: AbortSignal },
): Promise<FlowsResult> {
  const args = [String(options.count), String(options.timeoutMs ?? 1000), String(options.firstPort ?? 20000)];
  const { stdout } = await ns.exec(
    process.execPath,
    [MAIN, "send", address, String(port), ...args],
    options.signal === undefined ? {} : { signal: options.signal },
  );
  return JSON.parse(stdout.trim()) as FlowsResult;
}

async function waitForLine(child: ChildProcess, line: string): Promise<void> {
  let buffer = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      if (buffer.split("\n").includes(line)) resolve();
    });
    child.on("exit", (code) =>
      reject(new Error(`udp echo server exited (${String(code)}) before it was ready`)),
    );
  });
}
