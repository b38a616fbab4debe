/**
 * Test and benchmark wiring of one kroute node inside a network namespace: the
 * rtnetlink driver, the core's reducer and planner, and (optionally) the gateway
 * health tracker over real ICMP. It is the engine loop in miniature, for the
 * end-to-end tests and benchmarks of issue 5, not the agent's runtime:
 *
 *   inputs ─► reduce ─► plan ─► Dataplane.apply ─► dataplane/applied ─► reduce ...
 *
 * Kernel notifications come back as `kernel/changed`. The kernel flushes nexthops
 * whose link goes down without announcing it, so a link change triggers a fresh dump
 * (`kernel/observed`), which is how lost nexthops are seen and then re-created.
 */
import {
  type DataplaneFeatures,
  DEFAULT_SETTINGS,
  type EngineEvent,
  type EngineSettings,
  type EventBody,
  gatewayStatuses,
  type HostAddress,
  initialNodeState,
  type NodeState,
  nextRetryAt,
  plan,
  type RouteObject,
  reduce,
} from "@kroute/core";
import {
  createIcmpProber,
  createNetlinkDataplane,
  type IcmpProber,
  type NetlinkDataplane,
} from "@kroute/driver-netlink";
import { BehaviorSubject, map, type Subscription } from "rxjs";
import { probedGateways } from "../../src/health/probed.ts";
import { trackGatewayHealth } from "../../src/health/tracker.ts";
import type { ProbeSettings } from "../../src/settings.ts";

export interface KrouteNodeOptions {
  readonly netns: string;
  readonly node?: string;
  readonly addresses: readonly HostAddress[];
  readonly routes: readonly RouteObject[];
  /** Probe gateways over ICMP with these settings; absent: no prober (inject probe/result yourself). */
  readonly probe?: ProbeSettings;
  /** `auto` (default): resilient groups where the kernel has them; `multipath`: plain multipath routes. */
  readonly mode?: "auto" | "multipath";
}

export interface KrouteNode {
  readonly dataplane: NetlinkDataplane;
  readonly features: DataplaneFeatures;
  readonly settings: EngineSettings;
  readonly state$: BehaviorSubject<NodeState>;
  /** Every event reduced, in order: the node's event log. */
  readonly log: readonly EngineEvent[];
  inject(body: EventBody): void;
  /** Resolves once every queued event is reduced and every plannable op applied. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export async function startKrouteNode(options: KrouteNodeOptions): Promise<KrouteNode> {
  const node = options.node ?? "node-1";
  const dataplane = await createNetlinkDataplane({ netns: options.netns });
  const features = await dataplane.features();
  const settings = engineSettings(features, options.mode ?? "auto");
  // kroute's default: the multipath hash includes ports (layer 4).
  await dataplane.setMultipathHashPolicy(4, 1);
  await dataplane.setMultipathHashPolicy(6, 1);

  const log: EngineEvent[] = [];
  const state$ = new BehaviorSubject(initialNodeState(node, settings));
  const queue: EventBody[] = [];
  const idleWaiters: (() => void)[] = [];
  let pumping: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  let closed = false;
  let failure: unknown;
  let seq = 0;

  const reduceOne = (body: EventBody) => {
    const event = { v: 1, seq: ++seq, at: new Date().toISOString(), ...body } as EngineEvent;
    log.push(event);
    state$.next(reduce(state$.value, event));
  };

  const pump = async () => {
    await null; // run after the caller has recorded `pumping`
    for (;;) {
      while (queue.length > 0) reduceOne(queue.shift() as EventBody);
      const ops = plan(state$.value);
      if (ops.length === 0 || closed) break;
      const results = await dataplane.apply(ops);
      reduceOne({
        type: "dataplane/applied",
        node,
        results: ops.map((op, i) => ({
          op,
          result: results[i] ?? { ok: false, errno: 5, code: "EIO", message: "no result" },
        })),
      });
    }
    scheduleRetry();
  };
  const kick = () => {
    if (pumping !== undefined || closed) return;
    pumping = pump()
      .catch((error: unknown) => {
        // A broken loop must fail the test loudly, not hang it.
        failure = error;
      })
      .finally(() => {
        pumping = undefined;
        if (queue.length > 0 && failure === undefined) kick();
        else for (const wake of idleWaiters.splice(0)) wake();
      });
  };
  const inject = (body: EventBody) => {
    if (closed) return;
    queue.push(body);
    kick();
  };
  const scheduleRetry = () => {
    clearTimeout(retryTimer);
    const at = nextRetryAt(state$.value);
    if (at === undefined || closed) return;
    retryTimer = setTimeout(
      () => inject({ type: "timer/fired", node, timer: "retry" }),
      Math.max(0, Date.parse(at) - Date.now()),
    );
  };
  const observeKernel = async () => {
    const snapshot = await dataplane.list({});
    inject({ type: "kernel/observed", node, snapshot });
  };

  const subscriptions: Subscription[] = [];
  subscriptions.push(
    dataplane.watch().subscribe((change) => {
      inject({ type: "kernel/changed", node, change });
      if (change.kind === "link" || change.kind === "overflow") void observeKernel().catch(() => undefined);
    }),
  );

  inject({ type: "agent/configured", node, settings });
  inject({ type: "node/observed", node, labels: {} });
  inject({
    type: "host/observed",
    node,
    defaultGateways: [],
    addresses: options.addresses,
    dns: [],
    apiServers: [],
    protect: [],
  });
  inject({ type: "route/resynced", routes: options.routes });
  await observeKernel();

  let prober: IcmpProber | undefined;
  if (options.probe !== undefined) {
    const icmp = createIcmpProber({ netns: options.netns });
    prober = icmp;
    const probed$ = probedGateways(state$.pipe(map((state) => ({ gateways: gatewayStatuses(state) }))));
    subscriptions.push(
      trackGatewayHealth(probed$, {
        node,
        settings: options.probe,
        probe: (gateway, timeoutMs) => icmp.echo(gateway, timeoutMs),
      }).subscribe(inject),
    );
  }

  const idle = async () => {
    if (pumping !== undefined || queue.length > 0)
      await new Promise<void>((resolve) => idleWaiters.push(resolve));
    if (failure !== undefined) throw failure;
  };
  await idle();

  return {
    dataplane,
    features,
    settings,
    state$,
    log,
    inject,
    idle,
    async close() {
      for (const s of subscriptions) s.unsubscribe();
      prober?.close();
      await pumping;
      closed = true;
      clearTimeout(retryTimer);
      await dataplane.close();
    },
  };
}

/** Resilient groups where the kernel has them, hash-threshold groups or plain multipath otherwise. */
function engineSettings(features: DataplaneFeatures, mode: "auto" | "multipath"): EngineSettings {
  const { resilient, ...base } = DEFAULT_SETTINGS;
  if (mode === "multipath" || !features.nexthopObjects) return { ...base, nexthopMode: "multipath" };
  if (!features.resilientGroups || resilient === undefined) return { ...base, nexthopMode: "groups" };
  return { ...base, nexthopMode: "groups", resilient };
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
