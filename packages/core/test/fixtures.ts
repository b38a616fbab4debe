/** Small builders for core tests: events with an envelope, Routes, host facts. */
import type { EngineEvent, EventBody } from "../src/events.ts";
import type { IpAddr, Prefix } from "../src/ip.ts";
import type { KernelSnapshot } from "../src/kernel.ts";
import { reduce } from "../src/reducer.ts";
import type { RouteObject } from "../src/route.ts";
import { DEFAULT_SETTINGS, type EngineSettings } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";

export const NODE = "node-a";
export const T0 = Date.parse("2026-01-01T00:00:00.000Z");

let seq = 0;
export function at(ms: number): string {
  return new Date(T0 + ms).toISOString();
}

export function ev(body: EventBody, ms = 0): EngineEvent {
  seq += 1;
  return { v: 1, seq, at: at(ms), ...body } as EngineEvent;
}

export interface RouteSpec {
  destinations: string[];
  gateways: string[];
  table?: number;
  probe?: boolean;
  nodeSelector?: unknown;
}

export function route(
  name: string,
  spec: RouteSpec,
  creationTimestamp = "2025-01-01T00:00:00Z",
  generation = 1,
): RouteObject {
  return { metadata: { name, generation, creationTimestamp }, spec };
}

export const ip = (text: string) => text as IpAddr;
export const pfx = (text: string) => text as Prefix;

export function hostFacts(
  overrides: Partial<Omit<Extract<EventBody, { type: "host/observed" }>, "type" | "node">> = {},
): EventBody {
  return {
    type: "host/observed",
    node: NODE,
    defaultGateways: [{ via: ip("10.0.0.1"), dev: "eth0", metric: 100 }],
    addresses: [
      { ip: ip("10.0.0.10"), dev: "eth0", prefixLength: 24 },
      { ip: ip("10.114.0.10"), dev: "eth1", prefixLength: 20 },
      { ip: ip("fd00::10"), dev: "eth1", prefixLength: 64 },
    ],
    dns: [ip("198.51.100.53")],
    apiServers: [ip("203.0.113.100")],
    protect: [pfx("169.254.169.254/32")],
    ...overrides,
  } as EventBody;
}

export const emptySnapshot: KernelSnapshot = {
  routes: [],
  nexthops: [],
  rules: [],
  links: [],
  addresses: [],
  complete: true,
};

/** A state with node, host, a synced (empty) Route list and an empty complete kernel: ready to prune. */
export function readyState(
  settings: EngineSettings = DEFAULT_SETTINGS,
  labels: Record<string, string> = {},
): NodeState {
  return [
    ev({ type: "node/observed", node: NODE, labels }),
    ev(hostFacts()),
    ev({ type: "route/resynced", routes: [] }),
    ev({ type: "kernel/observed", node: NODE, snapshot: emptySnapshot }),
  ].reduce(reduce, initialNodeState(NODE, settings));
}

export function reduceAll(state: NodeState, events: readonly EngineEvent[]): NodeState {
  return events.reduce(reduce, state);
}

export const MULTIPATH: EngineSettings = { ...DEFAULT_SETTINGS, nexthopMode: "multipath" };
