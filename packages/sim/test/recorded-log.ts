/**
 * Recorded logs built on the ecmp-failover example: the tests of what a recording
 * agent's kernel notifications do in a replay (addresses, local routes, deletions).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULT_SETTINGS, type EngineEvent, type EventOf, type KernelChange } from "@kroute/core";
import { decode } from "./helpers.ts";

export const NODE = "worker-1";

export const example = decode(
  readFileSync(fileURLToPath(new URL("../../../examples/sim/ecmp-failover.jsonl", import.meta.url)), "utf8"),
);

/** The node, its host facts, the Route over 10.114.0.3 and .4, both probed up. */
export const converged = example.filter((event) => event.seq <= 5);

const found = converged.find((event) => event.type === "host/observed");
if (found?.type !== "host/observed") throw new Error("the example has no host facts");
/** The example's host facts (eth0 198.51.100.20/24, eth1 10.114.0.2/20 and fd00:114::2/64). */
export const exampleHost: EventOf<"host/observed"> = found;

/**
 * The log of an agent configured for plain multipath routes: `start`, then each change
 * as the kernel/changed it recorded (an event as it is), numbered in order.
 */
export function recordedLog(
  start: readonly EngineEvent[],
  changes: readonly (KernelChange | EngineEvent)[],
): EngineEvent[] {
  const at = "2025-11-25T10:00:00.000Z";
  const configured = {
    v: 1,
    seq: 0,
    at,
    type: "agent/configured",
    node: NODE,
    settings: { ...DEFAULT_SETTINGS, nexthopMode: "multipath" },
  } as EngineEvent;
  const recorded = changes.map(
    (change): EngineEvent =>
      "kind" in change ? { v: 1, seq: 0, at, type: "kernel/changed", node: NODE, change } : change,
  );
  return [configured, ...start, ...recorded].map((event, seq) => ({ ...event, seq: seq + 1 }));
}
