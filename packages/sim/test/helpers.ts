import { decodeLog, type EngineEvent } from "@kroute/core";
import type { Cleanup } from "../src/cluster/cleanup.ts";
import type { Teardown } from "../src/cluster/real-run.ts";
import { type GenerateOptions, generateLog } from "../src/generate.ts";
import { type NodeResult, renderJson } from "../src/render.ts";
import { Replayer, type ReplayOptions } from "../src/replay.ts";

export function decode(text: string): EngineEvent[] {
  const log = decodeLog(text);
  if (!log.ok) throw new Error(log.error.message);
  return log.events;
}

export function generated(options: GenerateOptions): EngineEvent[] {
  return decode([...generateLog(options)].join("\n"));
}

export function replay(
  events: readonly EngineEvent[],
  options: ReplayOptions = {},
): { replayer: Replayer; results: NodeResult[] } {
  const replayer = new Replayer(options);
  for (const event of events) if (!replayer.push(event)) break;
  replayer.finish();
  const results = [...replayer.nodes.values()].map((sim) => ({
    node: sim.name,
    snapshot: sim.snapshot(),
    violations: sim.violations,
  }));
  return { replayer, results };
}

export interface JsonDoc {
  nodes: Record<
    string,
    { routes: { dst: string; table: number; gateways: string[] }[]; violations: string[] }
  >;
}

export function json(results: readonly NodeResult[]): JsonDoc {
  return JSON.parse(renderJson(results)) as JsonDoc;
}

/** `cleanup` as the cluster's Teardown, also listing in `namespaces` each namespace made, for the test to look into. */
export function trackingNamespaces(cleanup: Cleanup, namespaces: string[]): Teardown {
  return {
    namespace: (n: string) => {
      namespaces.push(n);
      cleanup.namespace(n);
    },
    creating: cleanup.creating.bind(cleanup),
    child: cleanup.child.bind(cleanup),
    defer: cleanup.defer.bind(cleanup),
  };
}
