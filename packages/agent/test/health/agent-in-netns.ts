/**
 * The real agent runtime (startAgent: rtnetlink driver, core engine, ICMP health
 * tracker) in a node namespace, with the cluster side played by the test: Routes and
 * node labels pushed by hand. For the end-to-end tests and benchmarks of issue 5.
 */
import type { EventBody, IpAddr, RouteObject } from "@kroute/core";
import { type Logger, pino } from "pino";
import { BehaviorSubject } from "rxjs";
import { type AgentHandle, startAgent } from "../../src/runtime/agent.ts";
import type { StatusSink } from "../../src/runtime/status.ts";
import { parseAgentSettings } from "../../src/settings.ts";

export const NODE = "node-1";

export interface AgentInNetns {
  readonly agent: AgentHandle;
  /** Replaces the whole Route list (a relist). */
  setRoutes(routes: readonly RouteObject[]): void;
  stop(): Promise<void>;
}

/**
 * Starts the agent in `netns` with `routes`. `flags` are agent flags, e.g.
 * `--probe-interval=100ms` or `--nexthop-mode=multipath`. `options.status` are status
 * sinks fed like the cluster's (NodeRouteTable, Events); `options.logger` gets the logs.
 */
export async function startAgentInNetns(
  netns: string,
  routes: readonly RouteObject[],
  flags: readonly string[] = [],
  options: { readonly status?: readonly StatusSink[]; readonly logger?: Logger } = {},
): Promise<AgentInNetns> {
  const settings = parseAgentSettings(
    [
      `--netns=${netns}`,
      "--health-address=127.0.0.1:0",
      "--metrics-address=127.0.0.1:0",
      "--resolv-conf=/nonexistent",
      ...flags,
    ],
    { NODE_NAME: NODE },
  );
  const routes$ = new BehaviorSubject<EventBody>({ type: "route/resynced", routes });
  const agent = await startAgent(settings, {
    logger: options.logger ?? pino({ level: "silent" }),
    ...(options.status === undefined ? {} : { status: options.status }),
    cluster: {
      routes: routes$,
      node: new BehaviorSubject<EventBody>({ type: "node/observed", node: NODE, labels: {} }),
      apiServers: new BehaviorSubject<readonly IpAddr[]>([]),
    },
  });
  await agent.ready;
  return {
    agent,
    setRoutes: (next) => routes$.next({ type: "route/resynced", routes: next }),
    stop: () => agent.stop(),
  };
}

/** Agent flags for a set of probe settings. */
export function probeFlags(settings: {
  intervalMs: number;
  timeoutMs: number;
  fall: number;
  rise: number;
}): string[] {
  return [
    `--probe-interval=${settings.intervalMs}ms`,
    `--probe-timeout=${settings.timeoutMs}ms`,
    `--probe-fall=${settings.fall}`,
    `--probe-rise=${settings.rise}`,
  ];
}

/** A Route object as the API server would hand it over. */
export function routeObject(
  name: string,
  destinations: readonly string[],
  gateways: readonly string[],
  extra: Record<string, unknown> = {},
): RouteObject {
  return {
    apiVersion: "networking.kroute.dev/v1alpha1",
    kind: "Route",
    metadata: { name, generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: { destinations, gateways, ...extra },
  };
}
