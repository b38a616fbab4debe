/**
 * Links going away under plain multipath routes (kernels without nexthop objects): the
 * core's view of its routes must follow what Linux does, part of it silently (see
 * link-events.ts), so that it repairs what can be repaired and asks nothing impossible.
 */
import {
  canonicalRoute,
  DEFAULT_SETTINGS,
  type EngineEvent,
  type EventBody,
  initialNodeState,
  type KernelChange,
  type NodeState,
  nextRetryAt,
  ownedObjects,
  plan,
  reduce,
} from "@kroute/core";
import { describe, expect, it } from "vitest";
import { createFakeKernel, type HostDescription } from "../src/index.ts";

const NODE = "node-a";
const SETTINGS = { ...DEFAULT_SETTINGS, nexthopMode: "multipath" as const };
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }, { name: "eth2" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "10.1.0.10", prefixLength: 24 },
    { dev: "eth2", ip: "10.2.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "fd01::10", prefixLength: 64 },
    { dev: "eth2", ip: "fd02::10", prefixLength: 64 },
  ],
} as unknown as HostDescription;
const ROUTES = [
  {
    metadata: { name: "v4", creationTimestamp: "2025-01-01T00:00:00Z" },
    spec: { destinations: ["10.9.0.0/16"], gateways: ["10.2.0.1"], probe: false },
  },
  {
    metadata: { name: "v4-both", creationTimestamp: "2025-01-01T00:00:00Z" },
    spec: { destinations: ["10.8.0.0/16"], gateways: ["10.1.0.1", "10.2.0.1"], probe: false },
  },
  {
    metadata: { name: "v6", creationTimestamp: "2025-01-01T00:00:00Z" },
    spec: { destinations: ["fd50::/48"], gateways: ["fd01::1", "fd02::1"], probe: false },
  },
];

/** The core and a fake kernel, reconciled as the agent does (notifications read, backoff waited out). */
function node() {
  const kernel = createFakeKernel(HOST);
  const inbox: KernelChange[] = [];
  kernel.watch().subscribe((change) => inbox.push(change));
  let state: NodeState = initialNodeState(NODE, SETTINGS);
  let seq = 0;
  let clockMs = 0;
  const feed = (body: EventBody) => {
    clockMs += 10;
    const at = new Date(Date.UTC(2026, 0, 1) + clockMs).toISOString();
    state = reduce(state, { v: 1, seq: ++seq, at, ...body } as EngineEvent);
  };
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
  feed({ type: "route/resynced", routes: ROUTES } as unknown as EventBody);
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
      feed({
        type: "dataplane/applied",
        node: NODE,
        results: ops.map((op, i) => ({ op, result: results[i] ?? { ok: true } })),
      });
    }
  };
  const kernelRoutes = () =>
    kernel.listSync({ protocol: SETTINGS.protocol }).routes.map(canonicalRoute).sort();
  const viewedRoutes = () => ownedObjects(state.kernel).routes.map(canonicalRoute).sort();
  const gateways = (dst: string) =>
    kernel
      .listSync({ protocol: SETTINGS.protocol })
      .routes.filter((r) => r.dst === dst)
      .flatMap((r) =>
        r.target.kind === "gateways" ? r.target.nexthops.map((h) => `${h.gateway}@${h.dev}`) : [],
      );
  return {
    kernel,
    reconcile,
    kernelRoutes,
    viewedRoutes,
    gateways,
    failures: () => Object.keys(state.failures),
  };
}

describe("plain multipath routes when a link goes away", () => {
  it("admin down drops IPv4 routes out of the link silently: the core sees it, and re-adds them when it is up", () => {
    const n = node();
    n.reconcile();
    expect(n.gateways("10.9.0.0/16")).toEqual(["10.2.0.1@eth2"]);
    n.kernel.setAdminUp("eth2", false);
    n.reconcile();
    expect(n.gateways("10.9.0.0/16")).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    n.kernel.setAdminUp("eth2", true);
    n.reconcile();
    expect(n.gateways("10.9.0.0/16")).toEqual(["10.2.0.1@eth2"]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.failures()).toEqual([]);
  });

  it("a deleted link takes every IPv4 route with a nexthop on it, silently, and IPv6 nexthops through it, announced", () => {
    const n = node();
    n.reconcile();
    expect(n.gateways("fd50::/48").sort()).toEqual(["fd01::1@eth1", "fd02::1@eth2"]);
    n.kernel.deleteLink("eth2");
    n.reconcile();
    // What remains on eth1 stays and is not fought over; the core's view is the kernel's.
    expect(n.gateways("fd50::/48")).toEqual(["fd01::1@eth1"]);
    expect(n.gateways("10.8.0.0/16")).toEqual(["10.1.0.1@eth1"]);
    expect(n.gateways("10.9.0.0/16")).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.failures()).toEqual([]);
  });
});
