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
  /** The `ip monitor` process, for a test that holds it back as a loaded machine may. */
  readonly pid: number | undefined;
  /** The notifications so far, the monitor's own markers left out. */
  changes(): KernelChangeSeen[];
  /**
   * Resolves once every change the kernel announced before the call is in changes():
   * `ip` reads and prints the kernel's notifications some time after they were made,
   * later on a loaded machine, so what it printed so far may lack the last of them.
   */
  flush(): Promise<void>;
  /** Flushes, then ends the `ip monitor` process; the changes stay readable. */
  stop(): Promise<void>;
}

/**
 * A route no test writes, in a table of its own: its announcement says the monitor has
 * heard everything announced before it (the kernel sends a socket its notifications in
 * order). Each one has a metric of its own, so the one waited for is told from earlier ones.
 */
const MARKER = ["203.0.113.254/32", "dev", "lo", "table", "4242"];
const MARKER_TABLE = "table 4242";
/** Only a hang takes this long: `ip` starts and reads late on a loaded machine. */
const HANG_MS = 30_000;

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
  // "close", not "exit": only then has all that `ip` wrote been read from its pipe.
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const isMarker = (change: KernelChangeSeen) => change.text.includes(MARKER_TABLE);
  let markers = 0;
  /** Adds and deletes a marker of its own; says whether `ip` has printed it yet. */
  const announceMarker = async (): Promise<() => boolean> => {
    const marker = ++markers;
    const metric = ["metric", String(marker)];
    await ns.ip("route", "replace", ...MARKER, ...metric);
    await ns.ip("route", "del", ...MARKER, ...metric);
    const printed = new RegExp(`${MARKER_TABLE} .*\\bmetric ${marker}\\b`);
    return () => parse(output).some((change) => printed.test(change.text));
  };
  try {
    // `ip` subscribes a moment after it starts, later on a loaded machine: a marker added
    // before that is never announced to it, so a marker is added again until one is.
    await waitUntil(
      "ip monitor to announce its marker route",
      async () => {
        if (parse(output).some(isMarker)) return true;
        await announceMarker();
        return false;
      },
      HANG_MS,
      100,
    );
  } catch (error) {
    child.kill();
    await closed;
    throw error;
  }
  const flush = async () => {
    const printed = await announceMarker();
    await waitUntil("ip monitor to print its flush marker", async () => printed(), HANG_MS);
  };
  let stopped: Promise<void> | undefined;
  return {
    pid: child.pid,
    changes: () => parse(output).filter((change) => !isMarker(change)),
    flush,
    stop() {
      stopped ??= (async () => {
        try {
          // An `ip` that has ended on its own prints nothing more.
          if (child.exitCode === null && child.signalCode === null) await flush();
        } finally {
          child.kill();
          await closed;
        }
      })();
      return stopped;
    },
  };
}
