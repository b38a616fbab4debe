/**
 * Test harness for the agent in-process: settings for tests (free ports, fast timers)
 * and cluster sources driven by hand.
 */
import type { EventBody, IpAddr, RouteObject } from "@kroute/core";
import type { HostDescription } from "@kroute/driver-fake";
import { type Logger, pino } from "pino";
import { BehaviorSubject, ReplaySubject, Subject } from "rxjs";
import type { ClusterSources } from "../../src/runtime/agent.ts";
import { type AgentSettings, parseAgentSettings } from "../../src/settings.ts";

export const quietLogger = pino({ level: "silent" });

export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A logger whose lines the test reads back, parsed. */
export function capturedLog(): { logger: Logger; lines(): LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines: () => [...lines] };
}

export function testSettings(extra: readonly string[] = [], node = "node-a"): AgentSettings {
  return parseAgentSettings(
    [
      "--health-address=127.0.0.1:0",
      "--metrics-address=127.0.0.1:0",
      "--resolv-conf=/nonexistent",
      "--probe-interval=50ms",
      "--probe-timeout=40ms",
      "--probe-fall=1",
      "--probe-rise=1",
      ...extra,
    ],
    { NODE_NAME: node },
  );
}

/** Routes, node labels and API server endpoints, pushed by the test. */
export class HandCluster implements ClusterSources {
  readonly routes: Subject<EventBody> = new Subject<EventBody>();
  readonly node: BehaviorSubject<EventBody>;
  /** Replays the last endpoints pushed; none until the first push when started with none. */
  readonly apiServers: ReplaySubject<readonly IpAddr[]> = new ReplaySubject<readonly IpAddr[]>(1);

  /** `apiServers` undefined: the endpoints are not listed yet (the test pushes them). */
  constructor(
    nodeName = "node-a",
    labels: Record<string, string> = {},
    apiServers: readonly IpAddr[] | undefined = ["10.0.0.100" as IpAddr],
  ) {
    this.node = new BehaviorSubject<EventBody>({ type: "node/observed", node: nodeName, labels });
    if (apiServers !== undefined) this.apiServers.next(apiServers);
  }

  resync(routes: readonly RouteObject[]): void {
    this.routes.next({ type: "route/resynced", routes });
  }
}

let generation = 0;

export function routeObject(name: string, spec: unknown, created = "2026-01-01T00:00:00Z"): RouteObject {
  return { metadata: { name, generation: ++generation, creationTimestamp: created }, spec };
}

/** A node with eth0 10.0.0.5/24 and its original default route via 10.0.0.1. */
export const NODE_HOST: HostDescription = {
  links: [{ name: "eth0" }],
  addresses: [{ dev: "eth0", ip: "10.0.0.5" as IpAddr, prefixLength: 24 }],
  routes: [
    {
      family: 4,
      table: 254,
      dst: "0.0.0.0/0" as never,
      metric: 100,
      protocol: 4,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.1" as IpAddr, dev: "eth0", weight: 1 }] },
    },
  ],
};

/**
 * Polls `check` until it passes. The bound only stops a hang (it returns as soon as the
 * check passes, so it costs nothing when things work): on a loaded 2-core runner what
 * takes a moment alone can take many seconds. A time that is a requirement is measured
 * in the test, not by this bound.
 */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
