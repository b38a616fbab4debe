/** The core and a fake kernel in a test, reconciled as the agent does (notifications read, backoff waited out). */
import {
  canonicalRoute,
  type EngineEvent,
  type EngineSettings,
  type EventBody,
  initialNodeState,
  type KernelChange,
  type NodeState,
  nextRetryAt,
  type Op,
  type OpResult,
  ownedObjects,
  plan,
  reduce,
} from "@kroute/core";
import { createFakeKernel, type HostDescription } from "../src/index.ts";

export const NODE = "node-a";

export interface ReconciledNodeSetup {
  readonly settings: EngineSettings;
  readonly host: HostDescription;
  /** Route objects as the API server lists them. */
  readonly routes: readonly unknown[];
}

export function reconciledNode({ settings, host, routes }: ReconciledNodeSetup) {
  const kernel = createFakeKernel(host);
  const inbox: KernelChange[] = [];
  kernel.watch().subscribe((change) => inbox.push(change));
  let state: NodeState = initialNodeState(NODE, settings);
  let seq = 0;
  let clockMs = 0;
  /** Every op the kernel refused, with its result. */
  const refused: { op: Op; result: OpResult }[] = [];
  const feed = (body: EventBody) => {
    clockMs += 10;
    const at = new Date(Date.UTC(2026, 0, 1) + clockMs).toISOString();
    state = reduce(state, { v: 1, seq: ++seq, at, ...body } as EngineEvent);
  };
  const resync = (list: readonly unknown[]) =>
    feed({ type: "route/resynced", routes: list } as unknown as EventBody);
  feed({ type: "node/observed", node: NODE, labels: {} });
  feed({
    type: "host/observed",
    node: NODE,
    defaultGateways: [{ via: "10.0.0.1", dev: "eth0", metric: 100 }],
    addresses: [],
    dns: [],
    apiServers: [],
    protect: [],
  } as unknown as EventBody);
  resync(routes);
  feed({ type: "kernel/observed", node: NODE, snapshot: kernel.listSync() });
  const reconcile = () => {
    for (let round = 0; round < 20; round++) {
      for (const change of inbox.splice(0)) feed({ type: "kernel/changed", node: NODE, change });
      const ops = plan(state);
      if (ops.length === 0) {
        const retryAt = nextRetryAt(state);
        if (retryAt === undefined) return;
        clockMs = Math.max(clockMs, Date.parse(retryAt) - Date.UTC(2026, 0, 1));
        feed({ type: "timer/fired", node: NODE, timer: "retry" });
        continue;
      }
      const results = kernel.applySync(ops);
      const applied = ops.map((op, i) => ({ op, result: results[i] ?? { ok: true as const } }));
      refused.push(...applied.filter(({ result }) => !result.ok));
      feed({ type: "dataplane/applied", node: NODE, results: applied });
    }
  };
  const kernelRoutes = () =>
    kernel
      .listSync({ protocols: [settings.protocol] })
      .routes.map(canonicalRoute)
      .sort();
  const viewedRoutes = () => ownedObjects(state.kernel).routes.map(canonicalRoute).sort();
  const gateways = (dst: string) =>
    kernel
      .listSync({ protocols: [settings.protocol] })
      .routes.filter((r) => r.dst === dst)
      .flatMap((r) =>
        r.target.kind === "gateways" ? r.target.nexthops.map((h) => `${h.gateway}@${h.dev}`) : [],
      );
  return {
    kernel,
    resync,
    reconcile,
    kernelRoutes,
    viewedRoutes,
    gateways,
    refused,
    failures: () => Object.keys(state.failures),
    /** What the core would do next, once the notifications waiting are read. */
    nextPlan: () => {
      for (const change of inbox.splice(0)) feed({ type: "kernel/changed", node: NODE, change });
      return plan(state);
    },
  };
}
