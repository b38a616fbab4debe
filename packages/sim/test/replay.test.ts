import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  DEFAULT_SETTINGS,
  type EngineEvent,
  type IpAddr,
  initialNodeState,
  type KernelChange,
  type KernelRoute,
  type KernelSnapshot,
  type Op,
  type OpResult,
  ownedObjects,
  plan,
  reduce,
} from "@kroute/core";
import { describe, expect, it } from "vitest";
import { renderJson, renderText } from "../src/render.ts";
import { decode, generated, json, replay } from "./helpers.ts";

const example = (name: string): EngineEvent[] =>
  decode(readFileSync(fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url)), "utf8"));

describe("replay", () => {
  it("follows ECMP failover, fail-static and recovery step by step (SPEC basic example)", () => {
    const log = example("sim/ecmp-failover.jsonl");
    const at = (until: number) => json(replay(log, { until }).results).nodes["worker-1"]?.routes;
    const route = (gateways: string[]) => [{ dst: "0.0.0.0/5", table: 254, gateways }];
    expect(at(5)).toEqual(route(["10.114.0.3", "10.114.0.4"]));
    expect(at(6)).toEqual(route(["10.114.0.3"])); // .4 down: it leaves the set
    expect(at(7)).toEqual(route(["10.114.0.3", "10.114.0.4"])); // both down: fail-static keeps both
    expect(at(8)).toEqual(route(["10.114.0.4"])); // .4 back: only the healthy one
    expect(at(9)).toEqual(route(["10.114.0.3", "10.114.0.4"]));
    expect(json(replay(log).results).nodes["worker-1"]?.violations).toEqual([]);
  });

  it("applies selectors, conflicts and pool moves per node, and prints sorted JSON", () => {
    const { results } = replay(example("sim/pools-and-conflicts.jsonl"));
    const doc = json(results);
    expect(Object.keys(doc.nodes)).toEqual(["infra-1", "worker-1"]);
    // After `vpn` is deleted, the newer `vpn-copy` takes 172.16.0.0/12; the protected and malformed
    // destinations of `mixed` are refused while its good one is routed.
    const expected = [
      { dst: "10.20.0.0/16", table: 254, gateways: ["10.114.0.5"] },
      { dst: "172.16.0.0/12", table: 254, gateways: ["10.114.0.6"] },
      { dst: "192.168.50.0/24", table: 254, gateways: ["10.114.0.5"] },
    ];
    expect(doc.nodes["infra-1"]).toEqual({ routes: expected, violations: [] });
    expect(doc.nodes["worker-1"]).toEqual({ routes: expected, violations: [] });
    // Before the pool move, only worker-1 had the pool's Route (ECMP over two gateways, plus IPv6).
    const early = json(replay(example("sim/pools-and-conflicts.jsonl"), { until: 7 }).results);
    expect(early.nodes["worker-1"]?.routes.map((r) => r.dst)).toEqual([
      "10.20.0.0/16",
      "172.16.0.0/12",
      "192.168.50.0/24",
      "fd10::/48",
    ]);
    expect(early.nodes["worker-1"]?.routes[1]?.gateways).toEqual(["10.114.0.3", "10.114.0.4"]);
    expect(early.nodes["infra-1"]?.routes[1]?.gateways).toEqual(["10.114.0.6"]);
  });

  it("replays only the named node with --node", () => {
    const { results } = replay(example("sim/pools-and-conflicts.jsonl"), { node: "infra-1" });
    expect(results.map((r) => r.node)).toEqual(["infra-1"]);
  });

  it("is deterministic: the same log gives byte-identical output", () => {
    const log = generated({ nodes: 8, routes: 40, events: 800, seed: 9 });
    const one = replay(log).results;
    const two = replay(log).results;
    expect(renderJson(two)).toBe(renderJson(one));
    expect(renderText(two).join("\n")).toBe(renderText(one).join("\n"));
  });

  it("installs a default-route override in SPEC order: protected routes and the reply rule first", () => {
    const { results } = replay(example("sim/default-route.jsonl"));
    expect(results.flatMap((r) => r.violations.map((v) => v.message))).toEqual([]);
    // Before the Route goes: worker-1 (original metric 100) has a second default route,
    // worker-2 (original metric 0, a static configuration) the two halves instead.
    const before = json(replay(example("sim/default-route.jsonl"), { until: 13 }).results);
    const main = (node: string) =>
      (before.nodes[node]?.routes ?? [])
        .filter((r) => r.table === 254 && (r.dst.endsWith("/0") || r.dst.endsWith("/1")))
        .map((r) => r.dst);
    expect(main("worker-1")).toEqual(["0.0.0.0/0"]);
    expect(main("worker-2")).toEqual(["0.0.0.0/1", "128.0.0.0/1"]);
  });

  it("starts a host whose IPv6 default router is link-local, though host facts carry no fe80 address", () => {
    // The agent records no link-local addresses (host-facts.ts); Linux needs none for a fe80:: gateway.
    const withIpv6Default = (via: string) =>
      example("sim/default-route.jsonl").map((event) =>
        event.type === "host/observed"
          ? {
              ...event,
              defaultGateways: [...event.defaultGateways, { via: via as IpAddr, dev: "eth1", metric: 1024 }],
            }
          : event,
      );
    const { results } = replay(withIpv6Default("fe80::1"));
    expect(results.flatMap((r) => r.violations.map((v) => v.message))).toEqual([]);
    // One of the host's own addresses is a gateway no Linux host could have had.
    expect(() => replay(withIpv6Default("fd00:114::2"))).toThrow(
      "seq 2: host/observed for node worker-1: host description: route ::/0 refused: Gateway can not be a local address",
    );
  });

  it("programs a Route via a link-local gateway out of the device of the node's default route, as on a real node", () => {
    // Host facts carry no fe80 address; the fake kernel gives every link up with carrier
    // its own, as Linux does. fe80::1 is then on-link on eth0 and on cni0 alike, and the
    // core takes the default route's device (cni0 would win by name).
    const log = decode(
      [
        { type: "node/observed", node: "worker-1", labels: { "kubernetes.io/hostname": "worker-1" } },
        {
          type: "host/observed",
          node: "worker-1",
          defaultGateways: [
            { via: "198.51.100.1", dev: "eth0", metric: 100 },
            { via: "fe80::1", dev: "eth0", metric: 1024 },
          ],
          addresses: [
            { ip: "198.51.100.20", dev: "eth0", prefixLength: 24 },
            { ip: "2001:db8:1::20", dev: "eth0", prefixLength: 64 },
            { ip: "10.244.0.1", dev: "cni0", prefixLength: 24 },
          ],
          dns: [],
          apiServers: [],
          protect: [],
        },
        {
          type: "route/resynced",
          routes: [
            {
              apiVersion: "networking.kroute.dev/v1alpha1",
              kind: "Route",
              metadata: { name: "ll", generation: 1, creationTimestamp: "2025-11-25T09:00:00Z" },
              spec: { destinations: ["2001:db8:77::/48"], gateways: ["fe80::1"] },
            },
          ],
        },
      ]
        .map((event, index) =>
          JSON.stringify({ v: 1, seq: index + 1, at: "2025-11-25T10:00:00.000Z", ...event }),
        )
        .join("\n"),
    );
    const { results } = replay(log);
    expect(results.flatMap((r) => r.violations.map((v) => v.message))).toEqual([]);
    const snapshot = results[0]?.snapshot;
    const route = snapshot?.routes.find((r) => r.dst === "2001:db8:77::/48" && r.protocol === 201);
    const nexthop =
      route?.target.kind === "nexthop-object"
        ? snapshot?.nexthops.find((n) => route.target.kind === "nexthop-object" && n.id === route.target.id)
        : undefined;
    expect(nexthop).toMatchObject({ kind: "gateway", gateway: "fe80::1", dev: "eth0" });
  });

  it("replays generated logs without violating any invariant", () => {
    for (const seed of [1, 2]) {
      const { results, replayer } = replay(generated({ nodes: 6, routes: 30, events: 600, seed }));
      expect(results.flatMap((r) => r.violations.map((v) => v.message))).toEqual([]);
      // Every node did get routes from its pool.
      for (const r of results) expect(r.snapshot?.routes.length ?? 0).toBeGreaterThan(0);
      expect(replayer.nodeEvents).toBeGreaterThan(600);
    }
  });

  it("repairs an owned route deleted behind kroute's back, and leaves a foreign route alone", () => {
    const log = example("sim/ecmp-failover.jsonl").slice(0, 5);
    const before = replay(log).results[0]?.snapshot?.routes[0] as KernelRoute;
    const foreign: KernelRoute = {
      family: 4,
      table: 254,
      dst: "10.99.0.0/16" as KernelRoute["dst"],
      metric: 0,
      protocol: 4,
      scope: 0,
      target: {
        kind: "gateways",
        nexthops: [{ gateway: "10.114.0.9" as KernelRoute["dst"] as never, dev: "eth1", weight: 1 }],
      },
    };
    const envelope = (seq: number) => ({
      v: 1 as const,
      seq,
      at: "2025-11-25T10:01:00.000Z",
      node: "worker-1",
    });
    const drift: EngineEvent[] = [
      ...log,
      { ...envelope(10), type: "kernel/changed", change: { kind: "route", action: "del", route: before } },
      { ...envelope(11), type: "kernel/changed", change: { kind: "route", action: "new", route: foreign } },
    ];
    const steps: { seq: number; ops: Op[] }[] = [];
    const { replayer, results } = replay(drift, {
      onStep: (_node, step) => steps.push({ seq: step.seq, ops: step.results.map((r) => r.op) }),
    });
    expect(steps.find((s) => s.seq === 10)?.ops).toEqual([{ object: "route", action: "add", to: before }]);
    expect(steps.find((s) => s.seq === 11)).toBeUndefined();
    expect(results[0]?.violations).toEqual([]);
    expect(json(results).nodes["worker-1"]?.routes).toEqual([
      { dst: "0.0.0.0/5", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] },
    ]);
    expect(replayer.nodes.get("worker-1")?.owned.routes.size).toBe(1);
  });
});

describe("replay of changes made behind kroute's back", () => {
  it("a foreign route appended at kroute's key (not a replace) stands beside kroute's, which stays", () => {
    const log = example("sim/ecmp-failover.jsonl").slice(0, 5);
    const ours = replay(log).results[0]?.snapshot?.routes[0] as KernelRoute;
    const theirs: KernelRoute = {
      ...ours,
      protocol: 4,
      target: { kind: "gateways", nexthops: [{ gateway: "10.114.0.9" as never, dev: "eth1", weight: 1 }] },
    };
    const appended: EngineEvent = {
      v: 1,
      seq: 10,
      at: "2025-11-25T10:01:00.000Z",
      node: "worker-1",
      type: "kernel/changed",
      change: { kind: "route", action: "new", route: theirs },
    };
    const steps: number[] = [];
    const { replayer, results } = replay([...log, appended], {
      onStep: (_node, step) => {
        if (step.results.length > 0) steps.push(step.seq);
      },
    });
    expect(steps).not.toContain(10);
    expect(results[0]?.violations).toEqual([]);
    expect(results[0]?.snapshot?.routes).toEqual([ours]);
    expect(replayer.nodes.get("worker-1")?.owned.routes.size).toBe(1);
  });

  it("a second route of another's at its key, announced appended, stands beside the first (same owner)", () => {
    const log = example("sim/ecmp-failover.jsonl").slice(0, 5);
    const staticVia = (gateway: string): KernelRoute => ({
      family: 4,
      table: 254,
      dst: "192.0.2.0/24" as never,
      metric: 0,
      protocol: 4,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: gateway as never, dev: "eth1", weight: 1 }] },
    });
    const changed = (seq: number, change: KernelChange): EngineEvent => ({
      v: 1,
      seq,
      at: "2025-11-25T10:01:00.000Z",
      node: "worker-1",
      type: "kernel/changed",
      change,
    });
    // `ip route append` twice (NLM_F_APPEND, which kroute never sends): Linux keeps both.
    const events = [
      changed(10, { kind: "route", action: "new", route: staticVia("10.114.0.8") }),
      changed(11, { kind: "route", action: "new", route: staticVia("10.114.0.9"), appended: true }),
    ];
    const { replayer, results } = replay([...log, ...events]);
    expect(results[0]?.violations).toEqual([]);
    const kernel = replayer.nodes.get("worker-1")?.snapshot({});
    expect(kernel?.routes.filter((r) => r.dst === "192.0.2.0/24")).toEqual([
      staticVia("10.114.0.8"),
      staticVia("10.114.0.9"),
    ]);
  });

  it("another's replace at kroute's key where its prepended route leads takes theirs; kroute's stays", () => {
    const log = example("sim/ecmp-failover.jsonl").slice(0, 5);
    const ours = replay(log).results[0]?.snapshot?.routes[0] as KernelRoute;
    const theirs = (gateway: string): KernelRoute => ({
      ...ours,
      protocol: 4,
      target: { kind: "gateways", nexthops: [{ gateway: gateway as never, dev: "eth1", weight: 1 }] },
    });
    const changed = (seq: number, change: KernelChange): EngineEvent => ({
      v: 1,
      seq,
      at: "2025-11-25T10:01:00.000Z",
      node: "worker-1",
      type: "kernel/changed",
      change,
    });
    // `ip route prepend` (no flag: before kroute's), then `ip route replace`.
    const events = [
      changed(10, { kind: "route", action: "new", route: theirs("10.114.0.9") }),
      changed(11, { kind: "route", action: "new", route: theirs("10.114.0.8"), replaced: true }),
    ];
    const steps: number[] = [];
    const { replayer, results } = replay([...log, ...events], {
      onStep: (_node, step) => {
        if (step.results.length > 0) steps.push(step.seq);
      },
    });
    expect(steps).not.toContain(10);
    expect(steps).not.toContain(11);
    expect(results[0]?.violations).toEqual([]);
    expect(results[0]?.snapshot?.routes).toEqual([ours]);
    expect(replayer.nodes.get("worker-1")?.owned.routes.size).toBe(1);
  });

  it("puts kroute's group beside another's blackhole at its id, the same way on every replay", () => {
    const log = example("sim/ecmp-failover.jsonl").slice(0, 5);
    const group = replay(log).results[0]?.snapshot?.nexthops.find((n) => n.kind === "group");
    if (group === undefined) throw new Error("the example programs no group");
    const blackhole = { kind: "opaque" as const, id: group.id, protocol: 99, type: "blackhole" as const };
    // Their blackhole is there, at the id kroute would give the group, before the Routes come.
    const [node, host, ...rest] = log as [EngineEvent, EngineEvent, ...EngineEvent[]];
    const taken: EngineEvent[] = [
      node,
      host,
      {
        v: 1,
        seq: 3,
        at: host.at,
        node: "worker-1",
        type: "kernel/changed",
        change: { kind: "nexthop", action: "new", nexthop: blackhole },
      },
      ...rest.map((event) => ({ ...event, seq: event.seq + 1 })),
    ];
    const written: Op[] = [];
    const { results } = replay(taken, {
      onStep: (_node, step) => written.push(...step.results.map((r) => r.op)),
    });
    expect(results[0]?.violations).toEqual([]);
    expect(json(results).nodes["worker-1"]?.routes).toEqual([
      { dst: "0.0.0.0/5", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] },
    ]);
    const placed = results[0]?.snapshot?.nexthops.find((n) => n.kind === "group");
    expect(placed?.id).toBe(group.id + 1);
    // Theirs untouched: no op of kroute's writes, replaces or deletes at its id.
    const subjects = (op: Op) => [...("from" in op ? [op.from] : []), ...("to" in op ? [op.to] : [])];
    expect(
      written.filter(
        (op) => op.object === "nexthop" && subjects(op).some((n) => "id" in n && n.id === group.id),
      ),
    ).toEqual([]);
    expect(renderText(replay(taken).results).join("\n")).toBe(renderText(results).join("\n"));
  });

  it("follows a link losing carrier through the fake kernel: nexthops go, adds are refused, all return with the link", () => {
    const steps = new Map<number, string[]>();
    const { results } = replay(example("sim/drift.jsonl"), {
      onStep: (_node, step) =>
        steps.set(
          step.seq,
          step.results.map(({ op, result }) => `${op.object} ${op.action} ${result.ok ? "ok" : result.code}`),
        ),
    });
    expect(steps.get(6)).toEqual(["route add ok"]); // the deleted route is put back
    expect(steps.has(7)).toBe(false); // a foreign route appearing changes nothing
    expect(steps.get(8)).toEqual([
      "nexthop add ENETDOWN",
      "nexthop add ENETDOWN",
      "nexthop add EINVAL",
      "route add EINVAL",
    ]);
    expect(steps.get(10)).toEqual(["nexthop add ok", "nexthop add ok", "nexthop add ok", "route add ok"]);
    expect(json(results).nodes["worker-1"]).toEqual({
      routes: [{ dst: "0.0.0.0/5", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] }],
      violations: [],
    });
  });

  it("judges no route the carrier loss took: a gateway probed down then is no violation", () => {
    // Linux flushes eth1's nexthops, and the route through them, without a notification.
    const log = [
      ...example("sim/drift.jsonl").filter((e) => e.seq <= 8),
      ...decode(
        `{"v":1,"seq":9,"at":"2025-11-25T10:00:13.000Z","type":"probe/result","node":"worker-1","gateway":"10.114.0.4","up":false}`,
      ),
    ];
    const { replayer, results } = replay(log);
    expect(results[0]?.snapshot?.routes).toEqual([]);
    expect(results[0]?.violations).toEqual([]);
    expect(replayer.nodes.get("worker-1")?.owned.routes.size).toBe(0);
  });
});

describe("replay of a recorded agent log", () => {
  /** Turns a log into what an agent with --record writes: its dump at start and its apply results. */
  function record(
    events: readonly EngineEvent[],
    tamper?: (results: { op: Op; result: OpResult }[]) => void,
  ): EngineEvent[] {
    const applied = new Map<string, { op: Op; result: OpResult }[]>();
    replay(events, {
      onStep: (node, step) => {
        if (step.results.length > 0) applied.set(`${node}|${step.seq}`, [...step.results]);
      },
    });
    const out: EngineEvent[] = [];
    let seq = 0;
    const emptyDump = { routes: [], nexthops: [], rules: [], links: [], addresses: [], complete: true };
    for (const event of events) {
      out.push({ ...event, seq: ++seq });
      if (event.type === "host/observed") {
        out.push({
          v: 1,
          seq: ++seq,
          at: event.at,
          type: "kernel/observed",
          node: event.node,
          snapshot: emptyDump,
        });
      }
      for (const [key, results] of applied) {
        const [node, at] = key.split("|");
        if (Number(at) !== event.seq || node === undefined) continue;
        tamper?.(results);
        out.push({ v: 1, seq: ++seq, at: event.at, type: "dataplane/applied", node, results });
      }
    }
    return out;
  }

  it("replays to the table the recording agent held, re-deriving ops instead of re-applying recorded ones", () => {
    const original = example("sim/pools-and-conflicts.jsonl");
    const recorded = record(original);
    expect(recorded.some((e) => e.type === "dataplane/applied")).toBe(true);
    const { results } = replay(recorded);
    expect(results.flatMap((r) => r.violations)).toEqual([]);
    expect(json(results)).toEqual(json(replay(original).results));
  });

  it("replays a recording that ends while a link has no carrier to the table that agent held", () => {
    // Both kernels lost the route with eth1's carrier, and neither was told so route by route.
    const recorded = record(example("sim/drift.jsonl").filter((e) => e.seq <= 9));
    const { results } = replay(recorded);
    expect(results[0]?.violations).toEqual([]);
    expect(json(results).nodes["worker-1"]?.routes).toEqual([]);
  });

  it("reports a recording whose applied ops end elsewhere than the replay", () => {
    // The recording says its kernel refused the update that took 10.114.0.4 out of the group (event 6),
    // so the recorded kernel kept both gateways while the replay's kernel has one.
    let tampered = false;
    const recorded = record(example("sim/ecmp-failover.jsonl"), (results) => {
      const first = results[0];
      if (!tampered && first?.op.object === "nexthop" && first.op.action === "replace") {
        results[0] = {
          op: first.op,
          result: { ok: false, errno: 22, code: "EINVAL", message: "Invalid argument" },
        };
        tampered = true;
      }
    });
    const appliedAfter6 = recorded.find((e) => e.type === "dataplane/applied" && e.seq > 7);
    const { results } = replay(recorded, { until: appliedAfter6?.seq ?? 0 });
    const violations = results.flatMap((r) => r.violations.map((v) => v.message));
    expect(tampered).toBe(true);
    expect(violations).toEqual([
      "recorded agent held 0.0.0.0/5 table 254 metric 50 via 10.114.0.3,10.114.0.4; the replay does not",
      "the replay holds 0.0.0.0/5 table 254 metric 50 via 10.114.0.3; the recorded agent did not",
    ]);
  });
});

describe("replay of a recording that starts with an agent restarting over a gateway it had taken out", () => {
  const [node, host, routes] = example("sim/ecmp-failover.jsonl") as [EngineEvent, EngineEvent, EngineEvent];
  const name = "worker-1";

  /** What the agent before left in the kernel: the example up to 10.114.0.4 probed down (seq 6), converged. */
  function kernelLeftBehind(): KernelSnapshot {
    const empty = { routes: [], nexthops: [], rules: [], links: [], addresses: [], complete: true };
    let state = initialNodeState(name, DEFAULT_SETTINGS);
    const dump: EngineEvent = {
      v: 1,
      seq: 0,
      at: node.at,
      type: "kernel/observed",
      node: name,
      snapshot: empty,
    };
    for (const event of [dump, ...example("sim/ecmp-failover.jsonl").filter((e) => e.seq <= 6)]) {
      state = reduce(state, event);
      const results = plan(state).map((op) => ({ op, result: { ok: true as const } }));
      if (results.length > 0)
        state = reduce(state, { ...event, type: "dataplane/applied", node: name, results } as EngineEvent);
    }
    return { ...empty, ...ownedObjects(state.kernel) };
  }

  it("replays to the table the restarted agent held at every step: the gateway is never written back", () => {
    const at = "2025-11-25T11:00:00.000Z";
    const probe = (gateway: string, up: boolean): EngineEvent =>
      ({ v: 1, seq: 0, at, type: "probe/result", node: name, gateway, up }) as EngineEvent;
    // As the restarted agent records it: its dump first, no op written, its own verdicts last.
    const log = [
      { v: 1, seq: 0, at, type: "agent/configured", node: name, settings: DEFAULT_SETTINGS } as EngineEvent,
      { v: 1, seq: 0, at, type: "kernel/observed", node: name, snapshot: kernelLeftBehind() } as EngineEvent,
      host,
      routes,
      node,
      probe("10.114.0.3", true),
      probe("10.114.0.4", false),
    ].map((event, i) => ({ ...event, seq: i + 1, at }));
    for (const { seq } of log) {
      const { results } = replay(log, { until: seq });
      expect({ seq, violations: results.flatMap((r) => r.violations.map((v) => v.message)) }).toEqual({
        seq,
        violations: [],
      });
    }
    expect(json(replay(log).results).nodes[name]?.routes.map((r) => r.gateways)).toEqual([["10.114.0.3"]]);
  });
});

describe("replay of a default-route override whose protection the kernel refuses", () => {
  const line = (seq: number, body: object) =>
    JSON.stringify({ v: 1, seq, at: `2026-01-01T00:00:${String(seq).padStart(2, "0")}.000Z`, ...body });
  // Someone else's route at the exact key of the API server's protected route (metric 50,
  // main): the fake kernel refuses kroute's add with EEXIST, as Linux does.
  const foreign = {
    family: 4,
    table: 254,
    dst: "198.51.100.20/32",
    metric: 50,
    protocol: 4,
    scope: 0,
    target: { kind: "gateways", nexthops: [{ gateway: "203.0.113.1", dev: "eth0", weight: 1 }] },
  };
  const egress = {
    apiVersion: "networking.kroute.dev/v1alpha1",
    kind: "Route",
    metadata: { name: "egress", generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.4"] },
  };
  const text = [
    line(1, { type: "node/observed", node: "n1", labels: {} }),
    line(2, {
      type: "host/observed",
      node: "n1",
      defaultGateways: [{ via: "203.0.113.1", dev: "eth0", metric: 100 }],
      addresses: [
        { ip: "203.0.113.10", dev: "eth0", prefixLength: 24 },
        { ip: "10.114.0.10", dev: "eth1", prefixLength: 20 },
      ],
      dns: [],
      apiServers: ["198.51.100.20"],
      protect: [],
    }),
    line(3, { type: "kernel/changed", node: "n1", change: { kind: "route", action: "new", route: foreign } }),
    line(4, { type: "route/resynced", routes: [egress] }),
    line(5, { type: "kernel/changed", node: "n1", change: { kind: "route", action: "del", route: foreign } }),
    line(30, { type: "timer/fired", node: "n1", timer: "retry" }),
  ].join("\n");

  it("leaves the override out of the batch the refusal was in, and installs it once the protection is in", () => {
    const steps = new Map<number, string[]>();
    const { results } = replay(decode(text), {
      onStep: (_node, step) =>
        steps.set(
          step.seq,
          step.results.flatMap(({ op, result }) =>
            op.object === "route"
              ? [
                  `${op.action} ${op.action === "delete" ? op.from.dst : op.to.dst} table ${op.action === "delete" ? op.from.table : op.to.table} ${result.ok ? "ok" : result.code}`,
                ]
              : [],
          ),
        ),
    });
    expect(steps.get(4)).toContain("add 198.51.100.20/32 table 254 EEXIST");
    expect(steps.get(4)).not.toContain("add 0.0.0.0/0 table 254 ok");
    const mainAt5 = json(replay(decode(text), { until: 5 }).results).nodes.n1?.routes.filter(
      (r) => r.table === 254,
    );
    expect(mainAt5?.map((r) => r.dst)).toEqual([]);
    const end = json(results).nodes.n1;
    expect(end?.violations).toEqual([]);
    expect(end?.routes.filter((r) => r.table === 254).map((r) => r.dst)).toEqual([
      "0.0.0.0/0",
      "198.51.100.20/32",
    ]);
  });
});

describe("replay of a recording that starts with another's nexthop at an id of kroute's range", () => {
  const [node, host, routes, up3, up4] = example("sim/ecmp-failover.jsonl") as [
    EngineEvent,
    EngineEvent,
    EngineEvent,
    EngineEvent,
    EngineEvent,
  ];
  const name = "worker-1";
  const at = "2025-11-25T11:00:00.000Z";
  const empty = { routes: [], nexthops: [], rules: [], links: [], addresses: [], complete: true };

  it("adopts kroute's objects where the recording agent had put them, beside it, and writes nothing", () => {
    // Where kroute's group goes with nothing else in the range.
    const alone = replay(example("sim/ecmp-failover.jsonl").slice(0, 5)).results[0]?.snapshot;
    const home = alone?.nexthops.find((n) => n.kind === "group")?.id;
    if (home === undefined) throw new Error("the example programs no group");
    const blackhole = { kind: "opaque" as const, id: home, protocol: 99, type: "blackhole" as const };
    // What the agent before left, converged around another's blackhole at the group's home id.
    let state = initialNodeState(name, DEFAULT_SETTINGS);
    const first: EngineEvent = {
      v: 1,
      seq: 0,
      at: node.at,
      type: "kernel/observed",
      node: name,
      snapshot: { ...empty, nexthops: [blackhole] },
    };
    for (const event of [first, node, host, routes, up3, up4]) {
      state = reduce(state, event);
      const results = plan(state).map((op) => ({ op, result: { ok: true as const } }));
      if (results.length > 0)
        state = reduce(state, { ...event, type: "dataplane/applied", node: name, results } as EngineEvent);
    }
    const owned = ownedObjects(state.kernel);
    expect(owned.nexthops.find((n) => n.kind === "group")?.id).toBe(home + 1);
    const leftBehind: KernelSnapshot = {
      ...empty,
      ...owned,
      nexthops: [...owned.nexthops, blackhole].sort((a, b) => a.id - b.id),
    };
    // As the restarted agent records it: its dump first (theirs in it, as the agent's scope has it).
    const log = [
      { v: 1, seq: 0, at, type: "agent/configured", node: name, settings: DEFAULT_SETTINGS } as EngineEvent,
      { v: 1, seq: 0, at, type: "kernel/observed", node: name, snapshot: leftBehind } as EngineEvent,
      host,
      routes,
      node,
      up3,
      up4,
    ].map((event, i) => ({ ...event, seq: i + 1, at }));
    const written: Op[] = [];
    const { results } = replay(log, {
      onStep: (_node, step) => written.push(...step.results.map((r) => r.op)),
    });
    expect(results[0]?.violations).toEqual([]);
    expect(written).toEqual([]);
    expect(results[0]?.snapshot?.nexthops.find((n) => n.kind === "group")?.id).toBe(home + 1);
  });
  it("keeps another's device-only nexthop, fdb nexthop and fdb group at kroute's ids through the replay and its dumps", () => {
    const alone = replay(example("sim/ecmp-failover.jsonl").slice(0, 5)).results[0]?.snapshot;
    const home = alone?.nexthops.find((n) => n.kind === "group")?.id;
    if (home === undefined) throw new Error("the example programs no group");
    // As a real agent decodes them (driver-netlink domain/nexthops.ts), at kroute's group's home and after.
    const theirs = [
      { kind: "opaque" as const, id: home, protocol: 99, type: "device" as const, dev: "eth0" },
      { kind: "opaque" as const, id: home + 1, protocol: 99, type: "fdb" as const },
      {
        kind: "group" as const,
        id: home + 2,
        protocol: 99,
        members: [{ id: home + 1, weight: 1 }],
        groupType: "mpath" as const,
        fdb: true as const,
      },
    ];
    let state = initialNodeState(name, DEFAULT_SETTINGS);
    const first: EngineEvent = {
      v: 1,
      seq: 0,
      at: node.at,
      type: "kernel/observed",
      node: name,
      snapshot: { ...empty, nexthops: theirs },
    };
    for (const event of [first, node, host, routes, up3, up4]) {
      state = reduce(state, event);
      const results = plan(state).map((op) => ({ op, result: { ok: true as const } }));
      if (results.length > 0)
        state = reduce(state, { ...event, type: "dataplane/applied", node: name, results } as EngineEvent);
    }
    const owned = ownedObjects(state.kernel);
    expect(owned.nexthops.find((n) => n.kind === "group")?.id).toBe(home + 3);
    const recorded: KernelSnapshot = {
      ...empty,
      ...owned,
      nexthops: [...owned.nexthops, ...theirs].sort((a, b) => a.id - b.id),
    };
    // The restarted agent's start dump, its inputs, then a resync: the replay dumps the fake kernel there.
    const log = [
      { v: 1, seq: 0, at, type: "agent/configured", node: name, settings: DEFAULT_SETTINGS } as EngineEvent,
      { v: 1, seq: 0, at, type: "kernel/observed", node: name, snapshot: recorded } as EngineEvent,
      host,
      routes,
      node,
      up3,
      up4,
      { v: 1, seq: 0, at, type: "kernel/observed", node: name, snapshot: recorded } as EngineEvent,
    ].map((event, i) => ({ ...event, seq: i + 1, at }));
    const written: Op[] = [];
    const { replayer, results } = replay(log, {
      onStep: (_node, step) => written.push(...step.results.map((r) => r.op)),
    });
    expect(results[0]?.violations).toEqual([]);
    expect(written).toEqual([]);
    expect(replayer.nodes.get(name)?.snapshot({})?.nexthops).toEqual(recorded.nexthops);
    expect(json(results).nodes[name]?.routes).toEqual([
      { dst: "0.0.0.0/5", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] },
    ]);
  });
});
