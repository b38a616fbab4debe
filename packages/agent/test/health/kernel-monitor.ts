/**
 * Every change the kernel of a namespace announces to its routes and nexthops, as
 * `ip -ts monitor` prints it: for asserting what happened across a span of time (a
 * restart), which polling the tables would miss when a change is undone quickly.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Netns } from "@kroute/lab";
import { waitUntil } from "./kernel-view.ts";

export interface KernelChangeSeen {
  /** When `ip` heard of it, ms since the epoch (wall clock, as the agent's event times). */
  readonly at: number;
  /** The notification as `ip` prints it, one line per nexthop of a multipath route. */
  readonly text: string;
}

export interface KernelMonitor {
  /** The notifications so far, the monitor's own readiness marker left out. */
  changes(): KernelChangeSeen[];
  /** Ends the `ip monitor` process; the changes stay readable. */
  stop(): Promise<void>;
}

/** A route no test writes, in a table of its own: its announcement says the monitor is listening. */
const MARKER = ["203.0.113.254/32", "dev", "lo", "table", "4242"];

/** `[2026-12-07T11:39:36.521036] text`: ip prints local time without a zone, as Date.parse reads it. */
const STAMPED = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})\d*\] (.*)$/;

function parse(output: string): KernelChangeSeen[] {
  const changes: { at: number; text: string }[] = [];
  for (const line of output.split("\n")) {
    const stamped = STAMPED.exec(line);
    if (stamped !== null) changes.push({ at: Date.parse(stamped[1] as string), text: stamped[2] as string });
    else if (line.trim() !== "" && changes.length > 0)
      (changes.at(-1) as { text: string }).text += `\n${line}`;
  }
  return changes;
}

/** Starts `ip -ts monitor nexthop route` in `ns` and resolves once it is known to be listening. */
export async function monitorKernel(ns: Netns): Promise<KernelMonitor> {
  const child: ChildProcess = spawn("ip", ["-n", ns.name, "-ts", "monitor", "nexthop", "route"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout?.setEncoding("utf8");
  child.stdout?.on("data", (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const isMarker = (change: KernelChangeSeen) => change.text.includes("table 4242");
  try {
    // `ip` subscribes a moment after it starts, later on a loaded machine: a marker added
    // before that is never announced to it, so the marker is added again until one is.
    await waitUntil(
      "ip monitor to announce its marker route",
      async () => {
        if (parse(output).some(isMarker)) return true;
        await ns.ip("route", "replace", ...MARKER);
        await ns.ip("route", "del", ...MARKER);
        return false;
      },
      30_000, // only a hang takes this long: `ip` starts late on a loaded machine
      100,
    );
  } catch (error) {
    child.kill();
    await exited;
    throw error;
  }
  return {
    changes: () => parse(output).filter((change) => !isMarker(change)),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill();
      await exited;
    },
  };
}
