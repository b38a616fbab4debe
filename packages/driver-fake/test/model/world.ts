/**
 * The node under test: the core engine (reduce/plan) driven the way the agent
 * drives it, against a fake kernel. `reconcile` is one agent reconcile: apply the
 * plan, read the notifications, re-dump when the view is incomplete (overflow,
 * interrupted dump), wait out retry backoff, until nothing is left to do.
 */
import {
  DEFAULT_SETTINGS,
  type EngineEvent,
  type EngineSettings,
  type EventBody,
  type IpAddr,
  initialNodeState,
  type KernelChange,
  type NodeState,
  nextRetryAt,
  type Prefix,
  plan,
  type RouteObject,
  reduce,
} from "@kroute/core";
import type { Subscription } from "rxjs";
import { createFakeKernel, type FakeKernel, type HostDescription } from "../../src/index.ts";

export const NODE = "node-a";
const T0 = Date.parse("2026-01-01T00:00:00.000Z");

export const HOST: HostDescription = {
  links: [{ name: "eth0" }, { name: "eth1" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10" as IpAddr, prefixLength: 24 },
    { dev: "eth1", ip: "10.114.0.10" as IpAddr, prefixLength: 20 },
    { dev: "eth1", ip: "fd00::10" as IpAddr, prefixLength: 64 },
  ],
  routes: [
    {
      family: 4,
      table: 254,
      dst: "0.0.0.0/0" as Prefix,
      metric: 100,
      protocol: 16,
      scope: 0,
      prefsrc: "10.0.0.10" as IpAddr,
      target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.1" as IpAddr, dev: "eth0", weight: 1 }] },
    },
  ],
};

const HOST_FACTS = {
  type: "host/observed",
  node: NODE,
  defaultGateways: [{ via: "10.0.0.1" as IpAddr, dev: "eth0", metric: 100 }],
  addresses: (HOST.addresses ?? []).map(({ ip, dev, prefixLength }) => ({ ip, dev, prefixLength })),
  dns: ["198.51.100.53" as IpAddr],
  apiServers: ["203.0.113.100" as IpAddr],
  protect: ["169.254.169.254/32" as Prefix],
} as const satisfies EventBody;

export class World {
  readonly kernel: FakeKernel;
  readonly settings: EngineSettings;
  state: NodeState;
  /** What the Kubernetes API holds: the agent relists it on restart. */
  readonly apiRoutes = new Map<string, RouteObject>();
  /** Probe verdicts the agent would re-learn after a restart. */
  readonly probes = new Map<IpAddr, boolean>();
  private clockMs = 0;
  private seq = 0;
  private readonly inbox: KernelChange[] = [];
  private subscription: Subscription;

  constructor(settings: EngineSettings = DEFAULT_SETTINGS) {
    this.settings = settings;
    this.kernel = createFakeKernel(HOST);
    this.subscription = this.kernel.watch().subscribe((change) => this.inbox.push(change));
    this.state = this.start();
  }

  feed(body: EventBody): void {
    this.seq += 1;
    this.clockMs += 10;
    const event = {
      v: 1,
      seq: this.seq,
      at: new Date(T0 + this.clockMs).toISOString(),
      ...body,
    } as EngineEvent;
    this.state = reduce(this.state, event);
  }

  /** A fresh engine, as after an agent restart: sources sync, the kernel is dumped. */
  start(): NodeState {
    this.state = initialNodeState(NODE, this.settings);
    this.feed({ type: "agent/configured", node: NODE, settings: this.settings });
    this.feed({ type: "node/observed", node: NODE, labels: {} });
    this.feed(HOST_FACTS);
    this.feed({ type: "route/resynced", routes: [...this.apiRoutes.values()] });
    for (const [gateway, up] of this.probes) this.feed({ type: "probe/result", node: NODE, gateway, up });
    this.inbox.length = 0;
    this.dump();
    return this.state;
  }

  /** Restarting drops the old watch too: nothing from before the restart reaches the new engine. */
  restart(): void {
    this.subscription.unsubscribe();
    this.inbox.length = 0;
    this.subscription = this.kernel.watch().subscribe((change) => this.inbox.push(change));
    this.start();
  }

  dump(): void {
    this.feed({ type: "kernel/observed", node: NODE, snapshot: this.kernel.listSync() });
  }

  private drainNotifications(): void {
    while (this.inbox.length > 0) {
      const change = this.inbox.shift() as KernelChange;
      this.feed({ type: "kernel/changed", node: NODE, change });
    }
  }

  /**
   * One reconcile to quiescence; returns how many ops it applied. `mayNotConverge`
   * is for moments when the kernel must keep refusing (a link without carrier).
   */
  reconcile(mayNotConverge = false): number {
    let applied = 0;
    for (let round = 0; round < 60; round++) {
      this.drainNotifications();
      if (!this.state.kernel.complete) {
        this.dump();
        continue;
      }
      const ops = plan(this.state);
      if (ops.length === 0) {
        const retryAt = nextRetryAt(this.state);
        if (retryAt === undefined) return applied;
        this.clockMs = Math.max(this.clockMs, Date.parse(retryAt) - T0);
        this.feed({ type: "timer/fired", node: NODE, timer: "retry" });
        continue;
      }
      const results = this.kernel.applySync(ops);
      applied += ops.length;
      this.feed({
        type: "dataplane/applied",
        node: NODE,
        results: ops.map((op, i) => ({ op, result: results[i] ?? { ok: true } })),
      });
    }
    if (mayNotConverge) return applied;
    throw new Error(`no convergence after 60 rounds; still planned: ${JSON.stringify(plan(this.state))}`);
  }
}
