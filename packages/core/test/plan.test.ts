import { describe, expect, it } from "vitest";
import { desiredTable, routeOutcome } from "../src/desired.ts";
import { diff } from "../src/diff.ts";
import type { EngineEvent } from "../src/events.ts";
import { emptyHashMap, hmFromEntries } from "../src/hashmap.ts";
import type { KernelNexthop, KernelRoute, Op, OpResult } from "../src/kernel.ts";
import { secondStage, splitBeforeOverride } from "../src/override-stages.ts";
import { applyOps, ownedObjects } from "../src/owned.ts";
import { canPrune, kernelHoldsDesired, kernelResyncNeeded, nextRetryAt, plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import { emptyKernelState, initialNodeState, type NodeState } from "../src/state.ts";
import { emptySnapshot, ev, hostFacts, MULTIPATH, NODE, readyState, reduceAll, route } from "./fixtures.ts";

const basic = route("basic", {
  destinations: ["10.9.0.0/16", "10.10.0.0/16"],
  gateways: ["10.114.0.3", "10.114.0.4"],
});

function applyAll(state: NodeState, ops: readonly Op[], results?: OpResult[], ms = 0): NodeState {
  return reduce(
    state,
    ev(
      {
        type: "dataplane/applied",
        node: NODE,
        results: ops.map((op, i) => ({ op, result: results?.[i] ?? { ok: true } })),
      },
      ms,
    ),
  );
}

function converge(state: NodeState): NodeState {
  return applyAll(state, plan(state));
}

const foreign: KernelRoute = {
  family: 4,
  table: 254,
  dst: "10.99.0.0/16" as never,
  metric: 0,
  protocol: 4,
  scope: 0,
  target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.1" as never, dev: "eth0", weight: 1 }] },
};

const stale: KernelRoute = {
  ...foreign,
  dst: "10.98.0.0/16" as never,
  protocol: DEFAULT_SETTINGS.protocol,
  metric: 50,
};

describe("plan", () => {
  it("applying the plan converges: programmed outcomes and nothing left to do", () => {
    let state = reduce(readyState(), ev({ type: "route/upserted", route: basic }));
    const ops = plan(state);
    expect(ops.map((o) => `${o.object}/${o.action}`)).toEqual([
      "nexthop/add",
      "nexthop/add",
      "nexthop/add",
      "route/add",
      "route/add",
    ]);
    state = applyAll(state, ops);
    expect(plan(state)).toEqual([]);
    expect(routeOutcome(state, "basic")?.destinations.map((d) => d.state)).toEqual([
      "programmed",
      "programmed",
    ]);
  });

  it("equals diff(desiredTable, kernel) when nothing is held back", () => {
    const state = reduce(readyState(), ev({ type: "route/upserted", route: basic }));
    expect(plan(state)).toEqual(diff(desiredTable(state), state.kernel, { prune: canPrune(state) }));
  });

  it("adopts its own routes after a restart without touching them (zero churn)", () => {
    const before = converge(reduce(readyState(), ev({ type: "route/upserted", route: basic })));
    const { routes, nexthops, rules } = ownedObjects(before.kernel);
    let restarted = initialNodeState(NODE, DEFAULT_SETTINGS);
    restarted = reduceAll(restarted, [
      ev({
        type: "kernel/observed",
        node: NODE,
        snapshot: { ...emptySnapshot, routes: [...routes, foreign], nexthops, rules },
      }),
      ev({ type: "node/observed", node: NODE, labels: {} }),
      ev(hostFacts()),
      ev({ type: "route/resynced", routes: [basic] }),
    ]);
    expect(plan(restarted)).toEqual([]);
  });

  it("prunes stale owned routes only once every source has synced and the dump was complete", () => {
    const snapshot = { ...emptySnapshot, routes: [foreign, stale] };
    let state = initialNodeState(NODE, DEFAULT_SETTINGS);
    state = reduce(state, ev({ type: "kernel/observed", node: NODE, snapshot }));
    state = reduce(state, ev({ type: "node/observed", node: NODE, labels: {} }));
    state = reduce(state, ev(hostFacts()));
    expect(canPrune(state)).toBe(false);
    expect(plan(state)).toEqual([]);
    state = reduce(state, ev({ type: "route/resynced", routes: [] }));
    expect(canPrune(state)).toBe(true);
    expect(plan(state)).toEqual([{ object: "route", action: "delete", from: stale }]);
    // An incomplete dump (or a notification overflow) stops pruning again.
    state = reduce(
      state,
      ev({ type: "kernel/observed", node: NODE, snapshot: { ...snapshot, complete: false } }),
    );
    expect(plan(state)).toEqual([]);
    state = reduce(state, ev({ type: "kernel/observed", node: NODE, snapshot }));
    state = reduce(state, ev({ type: "kernel/changed", node: NODE, change: { kind: "overflow" } }));
    expect(canPrune(state)).toBe(false);
    expect(kernelResyncNeeded(state)).toBe(true);
  });

  it("says the kernel holds the desired table only when every source synced, the view is whole and nothing differs", () => {
    let state = initialNodeState(NODE, DEFAULT_SETTINGS);
    state = reduce(state, ev({ type: "kernel/observed", node: NODE, snapshot: emptySnapshot }));
    state = reduce(state, ev({ type: "node/observed", node: NODE, labels: {} }));
    state = reduce(state, ev(hostFacts()));
    // An empty kernel matches an empty table, but the Route list has not come yet.
    expect(kernelHoldsDesired(state)).toBe(false);
    state = reduce(state, ev({ type: "route/resynced", routes: [basic] }));
    expect(kernelHoldsDesired(state)).toBe(false); // pending
    const ops = plan(state);
    const refused: OpResult = { ok: false, errno: 17, code: "EEXIST", message: "File exists" };
    const partly = applyAll(
      state,
      ops,
      ops.map((_, i) => (i === ops.length - 1 ? refused : { ok: true })),
    );
    expect(kernelHoldsDesired(partly)).toBe(false); // refused
    state = applyAll(state, ops);
    expect(kernelHoldsDesired(state)).toBe(true);
    state = reduce(state, ev({ type: "kernel/changed", node: NODE, change: { kind: "overflow" } }));
    expect(kernelHoldsDesired(state)).toBe(false); // notifications lost: the view is not whole
  });

  it("never names a foreign route, even one at a key kroute wants", () => {
    const clash: KernelRoute = { ...foreign, dst: "10.9.0.0/16" as never, metric: 50 };
    let state = reduce(
      readyState(),
      ev({ type: "kernel/observed", node: NODE, snapshot: { ...emptySnapshot, routes: [foreign, clash] } }),
    );
    state = reduce(state, ev({ type: "route/upserted", route: basic }));
    const ops = plan(state);
    for (const op of ops) {
      if (op.object === "route") expect(op.action).toBe("add");
      if (op.action !== "add") expect(op.from.protocol).toBe(DEFAULT_SETTINGS.protocol);
    }
  });

  it("repairs drift reported by change notifications", () => {
    let state = converge(reduce(readyState(), ev({ type: "route/upserted", route: basic })));
    const [first] = desiredTable(state).routes;
    if (first === undefined) throw new Error("no route");
    state = reduce(
      state,
      ev({ type: "kernel/changed", node: NODE, change: { kind: "route", action: "del", route: first } }),
    );
    expect(plan(state)).toEqual([{ object: "route", action: "add", to: first }]);
    const tampered = { ...first, target: { kind: "device", dev: "eth9" } } as KernelRoute;
    state = converge(state);
    state = reduce(
      state,
      ev({ type: "kernel/changed", node: NODE, change: { kind: "route", action: "new", route: tampered } }),
    );
    expect(plan(state)).toEqual([{ object: "route", action: "replace", from: tampered, to: first }]);
  });

  it("a route of ours replaced by a foreign one is reported failed by the kernel, never overwritten", () => {
    let state = converge(reduce(readyState(), ev({ type: "route/upserted", route: basic })));
    const [ours] = desiredTable(state).routes;
    if (ours === undefined) throw new Error("no route");
    const theirs: KernelRoute = { ...ours, protocol: 4, target: { kind: "device", dev: "eth9" } };
    state = reduce(
      state,
      ev({
        type: "kernel/changed",
        node: NODE,
        change: { kind: "route", action: "new", route: theirs, replaced: true },
      }),
    );
    const ops = plan(state);
    expect(ops).toEqual([{ object: "route", action: "add", to: ours }]);
    state = applyAll(state, ops, [{ ok: false, errno: 17, code: "EEXIST", message: "File exists" }]);
    expect(routeOutcome(state, "basic")?.destinations[0]).toMatchObject({
      state: "failed",
      reason: "File exists",
    });
  });

  it("a foreign IPv4 route appended or prepended at our key leaves ours in the view: nothing to redo", () => {
    let state = converge(reduce(readyState(), ev({ type: "route/upserted", route: basic })));
    const [ours] = desiredTable(state).routes;
    if (ours === undefined) throw new Error("no route");
    const theirs: KernelRoute = { ...ours, protocol: 4, target: { kind: "device", dev: "eth9" } };
    // `ip route append` (NLM_F_CREATE|NLM_F_APPEND) and `prepend` (NLM_F_CREATE): no replace.
    state = reduce(
      state,
      ev({ type: "kernel/changed", node: NODE, change: { kind: "route", action: "new", route: theirs } }),
    );
    expect(ownedObjects(state.kernel).routes).toContainEqual(ours);
    expect(plan(state)).toEqual([]);
  });

  it("a gateway another program appends to our IPv6 route joins it: the view holds the joined route, which is repaired", () => {
    const v6 = route("v6", { destinations: ["2001:db8:9::/64"], gateways: ["fd00::3"] });
    // Inline gateways (nexthopMode "multipath"): only those join; a route through a nexthop object stays apart.
    let state = converge(reduce(readyState(MULTIPATH), ev({ type: "route/upserted", route: v6 })));
    const ours = desiredTable(state).routes.find((r) => r.family === 6);
    if (ours === undefined || ours.target.kind !== "gateways")
      throw new Error("no IPv6 route through gateways");
    const added = { gateway: "fd00::9" as never, dev: "eth1", weight: 1 };
    // Linux announces the joined route in the appender's name, its gateway first.
    const announced: KernelRoute = {
      ...ours,
      protocol: 4,
      target: { kind: "gateways", nexthops: [added, ...ours.target.nexthops] },
    };
    state = reduce(
      state,
      ev({ type: "kernel/changed", node: NODE, change: { kind: "route", action: "new", route: announced } }),
    );
    // As a dump would show it: our route, our gateways first.
    const joined: KernelRoute = {
      ...ours,
      target: { kind: "gateways", nexthops: [...ours.target.nexthops, added] },
    };
    expect(ownedObjects(state.kernel).routes).toContainEqual(joined);
    expect(plan(state)).toEqual([{ object: "route", action: "replace", from: joined, to: ours }]);
  });

  it("a nexthop lost with its link leaves its group, and takes the routes using it directly", () => {
    const single = route("single", { destinations: ["10.11.0.0/16"], gateways: ["10.114.0.3"] });
    let state = converge(
      reduceAll(readyState(), [
        ev({ type: "route/upserted", route: basic }),
        ev({ type: "route/upserted", route: single }),
      ]),
    );
    const gateway = desiredTable(state).nexthops.find(
      (n) => n.kind === "gateway" && n.gateway === "10.114.0.3",
    );
    if (gateway === undefined) throw new Error("no gateway nexthop");
    state = reduce(
      state,
      ev({
        type: "kernel/changed",
        node: NODE,
        change: { kind: "nexthop", action: "del", nexthop: gateway },
      }),
    );
    const ops = plan(state);
    expect(ops.map((o) => `${o.object}/${o.action}`)).toEqual([
      "nexthop/add",
      "nexthop/replace",
      "route/add",
    ]);
    expect(ops[0]).toEqual({ object: "nexthop", action: "add", to: gateway });
    expect(ops[2]).toMatchObject({ to: { dst: "10.11.0.0/16" } });
    expect(plan(applyAll(state, ops))).toEqual([]);
  });

  it("a link losing its carrier flushes our nexthops there, silently as Linux; they return with the link", () => {
    let state = converge(reduce(readyState(), ev({ type: "route/upserted", route: basic })));
    const gateways = desiredTable(state).nexthops.filter((n) => n.kind === "gateway");
    const dev = gateways[0]?.kind === "gateway" ? gateways[0].dev : "";
    const link = { index: 7, name: dev, up: true, carrier: false };
    state = reduce(
      state,
      ev({ type: "kernel/changed", node: NODE, change: { kind: "link", action: "new", link } }),
    );
    expect(ownedObjects(state.kernel).nexthops).toEqual([]);
    expect(ownedObjects(state.kernel).routes).toEqual([]);
    // The re-add is refused while the carrier is down, and backs off...
    const refused = plan(state);
    const down: OpResult = {
      ok: false,
      errno: 100,
      code: "ENETDOWN",
      message: "Carrier for nexthop device is down",
    };
    state = applyAll(
      state,
      refused,
      refused.map(() => down),
    );
    expect(plan(state)).toEqual([]);
    // ...until the carrier returns: then at once, without waiting out the backoff.
    const back = { ...link, carrier: true };
    state = reduce(
      state,
      ev({ type: "kernel/changed", node: NODE, change: { kind: "link", action: "new", link: back } }),
    );
    state = converge(state);
    expect(ownedObjects(state.kernel).nexthops).toHaveLength(gateways.length + 1);
    expect(plan(state)).toEqual([]);
  });

  it("a device's last IPv4 address going flushes our IPv4 routes through it, silently as Linux; IPv6 ones stay", () => {
    const dual = route("dual", {
      destinations: ["10.9.0.0/16", "2001:db8:9::/64"],
      gateways: ["10.114.0.3", "10.114.0.4", "fd00::3"],
    });
    // Inline gateways (nexthopMode "multipath"): routes through nexthop objects survive the address.
    let state = converge(reduce(readyState(MULTIPATH), ev({ type: "route/upserted", route: dual })));
    const address = (ip: string, action: "new" | "del") =>
      ev({
        type: "kernel/changed",
        node: NODE,
        change: { kind: "address", action, address: { ip: ip as never, prefixLength: 20, dev: "eth1" } },
      });
    state = reduceAll(state, [address("10.114.0.10", "new"), address("10.114.0.11", "new")]);
    const routes = () => ownedObjects(state.kernel).routes.map((r) => r.dst);
    expect(routes().sort()).toEqual(["10.9.0.0/16", "2001:db8:9::/64"]);
    // Another IPv4 address stays on eth1: Linux keeps the routes.
    state = reduce(state, address("10.114.0.11", "del"));
    expect(routes().sort()).toEqual(["10.9.0.0/16", "2001:db8:9::/64"]);
    state = reduce(state, address("10.114.0.10", "del"));
    expect(routes()).toEqual(["2001:db8:9::/64"]);
    expect(plan(state)).toContainEqual(
      expect.objectContaining({
        object: "route",
        action: "add",
        to: expect.objectContaining({ dst: "10.9.0.0/16" }),
      }),
    );
  });

  it("a kernel refusal marks the route failed with the kernel's message and backs off", () => {
    let state = reduce(readyState(), ev({ type: "route/upserted", route: basic }));
    const ops = plan(state);
    const refusal: OpResult = {
      ok: false,
      errno: 101,
      code: "ENETUNREACH",
      message: "Nexthop has invalid gateway",
    };
    state = applyAll(
      state,
      ops,
      ops.map((o) =>
        o.object === "route" && o.action === "add" && o.to.dst === "10.9.0.0/16" ? refusal : { ok: true },
      ),
      0,
    );
    const outcome = routeOutcome(state, "basic");
    expect(outcome?.destinations[0]).toMatchObject({
      state: "failed",
      reason: "Nexthop has invalid gateway",
    });
    expect(outcome?.destinations[1]?.state).toBe("programmed");
    expect(plan(state)).toEqual([]);
    expect(nextRetryAt(state)).toBe("2026-01-01T00:00:01.000Z");

    state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 500));
    expect(plan(state)).toEqual([]);
    state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 1000));
    const retry = plan(state);
    expect(retry).toHaveLength(1);

    state = applyAll(state, retry, [refusal], 1000);
    expect(state.failures[`r|4|254|10.9.0.0/16|50`]?.attempts).toBe(2);
    expect(nextRetryAt(state)).toBe("2026-01-01T00:00:03.000Z");
    state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 3000));
    state = applyAll(state, plan(state), undefined, 3000);
    expect(state.failures).toEqual({});
    expect(routeOutcome(state, "basic")?.destinations[0]?.state).toBe("programmed");
  });

  for (const [form, originalMetric, override] of [
    ["one default route", 100, ["0.0.0.0/0"]],
    ["split in halves (original metric 0)", 0, ["0.0.0.0/1", "128.0.0.0/1"]],
  ] as const)
    it(`a default-route override (${form}) goes in after its protected routes and reply rule, and only once they are in`, () => {
      const egress = route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.4"] });
      const facts = hostFacts({
        defaultGateways: [{ via: "10.0.0.1" as never, dev: "eth0", metric: originalMetric }],
      });
      let state = reduceAll(readyState(), [ev(facts), ev({ type: "route/upserted", route: egress })]);
      const ops = plan(state);
      const routeOps = ops.filter((o) => o.object === "route" || o.object === "rule");
      const describe = (o: Op) =>
        o.object === "rule"
          ? `rule ${o.action} ${(o.action === "delete" ? o.from : o.to).priority}`
          : o.object === "route"
            ? `${o.action} ${(o.action === "delete" ? o.from : o.to).dst} table ${(o.action === "delete" ? o.from : o.to).table}`
            : "";
      expect(routeOps.map(describe)).toEqual([
        "add 0.0.0.0/0 table 135",
        "add 169.254.169.254/32 table 254",
        "add 198.51.100.53/32 table 254",
        "add 203.0.113.100/32 table 254",
        // Main's specific routes first, then the reply rule (see contribution.ts).
        "rule add 1349",
        "rule add 1350",
        ...override.map((dst) => `add ${dst} table 254`),
      ]);
      // The API server's host route is refused in the first stage: the override is
      // left out of the second (override-stages.ts), and waits for it.
      const refusal: OpResult = { ok: false, errno: 22, code: "EINVAL", message: "Invalid argument" };
      const { first, rest } = splitBeforeOverride(state, ops);
      const firstApplied = first.map((op) => ({
        op,
        result:
          op.object === "route" && op.action === "add" && op.to.dst === "203.0.113.100/32"
            ? refusal
            : ({ ok: true } as OpResult),
      }));
      const second = secondStage(state, rest, firstApplied);
      expect(second.filter((o) => o.object === "route").map(describe)).toEqual([]);
      expect(
        secondStage(
          state,
          rest,
          first.map((op) => ({ op, result: { ok: true } })),
        ).map(describe),
      ).toEqual(override.map((dst) => `add ${dst} table 254`));
      state = applyAll(
        state,
        [...first, ...second],
        firstApplied.map(({ result }) => result),
      );
      state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 5000));
      expect(plan(state).map(describe)).toEqual(["add 203.0.113.100/32 table 254"]);
      state = applyAll(state, plan(state), undefined, 5000);
      expect(plan(state).map(describe)).toEqual(override.map((dst) => `add ${dst} table 254`));
      // Removing the Route takes the override out first.
      state = converge(state);
      state = reduce(state, ev({ type: "route/deleted", name: "egress" }));
      const removal = plan(state);
      expect(removal.map(describe)).toEqual([
        ...override.map((dst) => `delete ${dst} table 254`),
        "rule delete 1350",
        "rule delete 1349",
        "delete 0.0.0.0/0 table 135",
        "delete 169.254.169.254/32 table 254",
        "delete 198.51.100.53/32 table 254",
        "delete 203.0.113.100/32 table 254",
        ...removal.filter((o) => o.object === "nexthop").map(() => ""),
      ]);
    });

  it("holds back the halves of a split override while a protection is refused, not a Route's own /1 that holds none of it", () => {
    const egress = route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.4"] });
    const vpn = route(
      "vpn",
      // Holds no protected address: the fixture's are all in 128.0.0.0/1, 10.0.0.0/8 is connected.
      { destinations: ["0.0.0.0/1"], gateways: ["10.114.0.5"] },
      "2024-01-01T00:00:00Z",
    );
    const facts = hostFacts({ defaultGateways: [{ via: "10.0.0.1" as never, dev: "eth0", metric: 0 }] });
    let state = reduceAll(readyState(), [
      ev(facts),
      ...[egress, vpn].map((r) => ev({ type: "route/upserted", route: r })),
    ]);
    const ops = plan(state);
    const refusal: OpResult = { ok: false, errno: 22, code: "EINVAL", message: "Invalid argument" };
    const isRoute = (o: Op, dst: string) => o.object === "route" && o.action === "add" && o.to.dst === dst;
    // Within the apply, the refusal of the protection keeps the half out, not the Route's own /1.
    const { first, rest } = splitBeforeOverride(state, ops);
    const refusedFirst = first.map((op) => ({
      op,
      result: isRoute(op, "203.0.113.100/32") ? refusal : ({ ok: true } as OpResult),
    }));
    const appliedRoutes = [...first, ...secondStage(state, rest, refusedFirst)].flatMap((o) =>
      o.object === "route" && o.action === "add" ? [o.to.dst] : [],
    );
    expect(appliedRoutes).toContain("0.0.0.0/1");
    expect(appliedRoutes).not.toContain("128.0.0.0/1");
    state = applyAll(
      state,
      ops,
      ops.map((o) =>
        isRoute(o, "203.0.113.100/32") || isRoute(o, "0.0.0.0/1") || isRoute(o, "128.0.0.0/1")
          ? refusal
          : { ok: true },
      ),
    );
    state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 5000));
    const retried = plan(state).flatMap((o) =>
      o.object === "route" && o.action === "add" ? [o.to.dst] : [],
    );
    expect(retried.sort()).toEqual(["0.0.0.0/1", "203.0.113.100/32"]);
  });

  it("holds back a Route's destination that holds a protected address while that address's route is refused, not its others", () => {
    // A VPN pair written by the operator, no default route: 128.0.0.0/1 holds the API
    // server 203.0.113.100, the resolver and the metadata address; 0.0.0.0/1 holds none.
    const vpn = route("vpn", { destinations: ["0.0.0.0/1", "128.0.0.0/1"], gateways: ["10.114.0.5"] });
    let state = reduceAll(readyState(), [ev(hostFacts()), ev({ type: "route/upserted", route: vpn })]);
    const ops = plan(state);
    const adds = (list: readonly Op[]) =>
      list.flatMap((o) => (o.object === "route" && o.action === "add" ? [`${o.to.table} ${o.to.dst}`] : []));
    // The host routes and each half's reply route go in first, the halves after them.
    expect(adds(ops)).toEqual([
      "135 0.0.0.0/1",
      "135 128.0.0.0/1",
      "254 169.254.169.254/32",
      "254 198.51.100.53/32",
      "254 203.0.113.100/32",
      "254 0.0.0.0/1",
      "254 128.0.0.0/1",
    ]);
    const refusal: OpResult = { ok: false, errno: 17, code: "EEXIST", message: "File exists" };
    const isApiServer = (o: Op) =>
      o.object === "route" && o.action === "add" && o.to.dst === "203.0.113.100/32";
    const { first, rest } = splitBeforeOverride(state, ops);
    expect(adds(first)).toEqual(adds(ops).slice(0, 5));
    const firstApplied = first.map((op) => ({
      op,
      result: isApiServer(op) ? refusal : ({ ok: true } as OpResult),
    }));
    const second = secondStage(state, rest, firstApplied);
    expect(adds(second)).toEqual(["254 0.0.0.0/1"]);
    state = applyAll(
      state,
      [...first, ...second],
      [...firstApplied.map((a) => a.result), ...second.map(() => ({ ok: true }) as OpResult)],
    );
    expect(adds(plan(state))).toEqual([]);
    expect(routeOutcome(state, "vpn")?.destinations[1]).toMatchObject({
      state: "failed",
      reason:
        "held back: the kernel refused the route that keeps 203.0.113.100/32 on the original gateway (File exists), and the route to 128.0.0.0/1 waits for it",
    });
    state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 5000));
    expect(adds(plan(state))).toEqual(["254 203.0.113.100/32"]);
    state = applyAll(state, plan(state), [{ ok: true }]);
    expect(adds(plan(state))).toEqual(["254 128.0.0.0/1"]);
  });

  describe("a Route's own half of the address space and its reply protection (SPEC §3.5)", () => {
    const vpn = route("vpn", { destinations: ["0.0.0.0/1", "128.0.0.0/1"], gateways: ["10.114.0.5"] });
    const egress = route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3"] });
    const describeOp = (o: Op) =>
      o.object === "rule"
        ? `rule ${o.action} ${(o.action === "delete" ? o.from : o.to).priority}`
        : o.object === "route"
          ? `${o.action} ${(o.action === "delete" ? o.from : o.to).table} ${(o.action === "delete" ? o.from : o.to).dst}`
          : undefined;
    const routesAndRules = (ops: readonly Op[]) => ops.flatMap((o) => describeOp(o) ?? []);
    const upsert = (...routes: ReturnType<typeof route>[]) =>
      reduceAll(readyState(), [
        ev(hostFacts()),
        ...routes.map((r) => ev({ type: "route/upserted", route: r })),
      ]);

    it("waits for a refused reply rule, named, and goes in once it is in", () => {
      let state = upsert(vpn);
      const ops = plan(state);
      const refusal: OpResult = { ok: false, errno: 17, code: "EEXIST", message: "File exists" };
      const isReplyRule = (o: Op) => o.object === "rule" && o.action === "add" && o.to.priority === 1350;
      const { first, rest } = splitBeforeOverride(state, ops);
      expect(routesAndRules(rest)).toEqual(["add 254 0.0.0.0/1", "add 254 128.0.0.0/1"]);
      const firstApplied = first.map((op) => ({
        op,
        result: isReplyRule(op) ? refusal : ({ ok: true } as OpResult),
      }));
      expect(secondStage(state, rest, firstApplied)).toEqual([]);
      state = applyAll(
        state,
        first,
        firstApplied.map((a) => a.result),
      );
      expect(routesAndRules(plan(state))).toEqual([]);
      for (const destination of routeOutcome(state, "vpn")?.destinations ?? [])
        expect(destination).toMatchObject({
          state: "failed",
          reason: `held back: the kernel refused kroute's rule at priority 1350 (File exists), and the route to ${destination.destination} waits for it`,
        });
      state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 5000));
      expect(routesAndRules(plan(state))).toEqual(["rule add 1350"]);
      state = applyAll(state, plan(state), [{ ok: true }], 5000);
      expect(routesAndRules(plan(state))).toEqual(["add 254 0.0.0.0/1", "add 254 128.0.0.0/1"]);
    });

    it("comes out before its reply protection, and leaves what an override still needs", () => {
      let state = converge(upsert(vpn));
      state = reduce(state, ev({ type: "route/deleted", name: "vpn" }));
      expect(routesAndRules(plan(state))).toEqual([
        "delete 254 0.0.0.0/1",
        "delete 254 128.0.0.0/1",
        "rule delete 1350",
        "rule delete 1349",
        "delete 135 0.0.0.0/1",
        "delete 135 128.0.0.0/1",
        "delete 254 169.254.169.254/32",
        "delete 254 198.51.100.53/32",
        "delete 254 203.0.113.100/32",
      ]);

      // Beside an override, the reply rules are both's: the halves' reply routes still go after the halves.
      state = converge(upsert(egress, vpn));
      state = reduce(state, ev({ type: "route/deleted", name: "vpn" }));
      expect(routesAndRules(plan(state))).toEqual([
        "delete 254 0.0.0.0/1",
        "delete 254 128.0.0.0/1",
        "delete 135 0.0.0.0/1",
        "delete 135 128.0.0.0/1",
      ]);
      state = converge(state);
      expect(desiredTable(state).rules.map((r) => r.priority)).toEqual([1349, 1350]);

      // And the override gone, the halves keep their reply protection.
      state = converge(upsert(egress, vpn));
      state = reduce(state, ev({ type: "route/deleted", name: "egress" }));
      expect(routesAndRules(plan(state))).toEqual(["delete 254 0.0.0.0/0", "delete 135 0.0.0.0/0"]);
    });

    it("one half dropped takes its reply route out after it, the other half keeping the rules", () => {
      let state = converge(upsert(vpn));
      state = reduce(
        state,
        ev({
          type: "route/upserted",
          route: route("vpn", { destinations: ["128.0.0.0/1"], gateways: ["10.114.0.5"] }),
        }),
      );
      expect(routesAndRules(plan(state))).toEqual(["delete 254 0.0.0.0/1", "delete 135 0.0.0.0/1"]);
    });
  });

  it("adds a route after the more specific ones it holds: the API server's host route before a /8 holding it", () => {
    const wide = route("wide", { destinations: ["203.0.0.0/8", "203.0.113.0/24"], gateways: ["10.114.0.5"] });
    const state = reduceAll(readyState(), [ev(hostFacts()), ev({ type: "route/upserted", route: wide })]);
    const ops = plan(state);
    const adds = (list: readonly Op[]) =>
      list.flatMap((o) => (o.object === "route" && o.action === "add" ? [o.to.dst] : []));
    // Address order would add 203.0.0.0/8 first, and the API server would follow it until its host route is in.
    expect(adds(ops)).toEqual(["203.0.113.100/32", "203.0.113.0/24", "203.0.0.0/8"]);
    // Both hold the API server: the apply is cut before the first of them.
    expect(adds(splitBeforeOverride(state, ops).first)).toEqual(["203.0.113.100/32"]);
  });

  it("a changed desire is tried at once, even while the old op is backing off", () => {
    let state = reduce(readyState(), ev({ type: "route/upserted", route: basic }));
    const ops = plan(state);
    const refusal: OpResult = { ok: false, errno: 17, code: "EEXIST", message: "File exists" };
    state = applyAll(
      state,
      ops,
      ops.map((o) => (o.object === "route" ? refusal : { ok: true })),
    );
    expect(plan(state)).toEqual([]);
    state = reduce(
      state,
      ev({
        type: "route/upserted",
        route: route("basic", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.5"] }),
      }),
    );
    expect(plan(state).some((o) => o.object === "route" && o.action === "add")).toBe(true);
    // The refusal of the route no longer wanted is forgotten; the one still wanted stays until it succeeds.
    expect(Object.keys(state.failures).filter((k) => k.startsWith("r|"))).toEqual(["r|4|254|10.9.0.0/16|50"]);
  });
});

describe("diff", () => {
  const nh = (id: number, gateway: string): KernelNexthop => ({
    kind: "gateway",
    id,
    family: 4,
    protocol: 201,
    gateway: gateway as never,
    dev: "eth1",
  });
  const group = (id: number, members: number[]): KernelNexthop => ({
    kind: "group",
    id,
    protocol: 201,
    members: members.map((m) => ({ id: m, weight: 1 })),
    groupType: "mpath",
  });
  const viaObject = (dst: string, id: number): KernelRoute => ({
    ...stale,
    dst: dst as never,
    target: { kind: "nexthop-object", id },
  });
  const observedOf = (routes: KernelRoute[], nexthops: KernelNexthop[]) => ({
    ...emptyKernelState(),
    routes: hmFromEntries(routes.map((r) => [`${r.family}|${r.table}|${r.dst}|${r.metric}`, r] as const)),
    nexthops: hmFromEntries(nexthops.map((n) => [String(n.id), n] as const)),
    observed: true,
    complete: true,
  });

  it("orders adds bottom-up and deletes top-down", () => {
    const observed = observedOf(
      [viaObject("10.1.0.0/16", 12)],
      [nh(10, "10.114.0.3"), nh(11, "10.114.0.4"), group(12, [10, 11])],
    );
    const desired = {
      routes: [viaObject("10.2.0.0/16", 22)],
      nexthops: [nh(20, "10.114.0.5"), nh(21, "10.114.0.6"), group(22, [20, 21])],
      rules: [],
    };
    const ops = diff(desired, observed, { prune: true });
    expect(
      ops.map(
        (o) => `${o.object}/${o.action}/${o.object === "nexthop" && o.action === "delete" ? o.from.id : ""}`,
      ),
    ).toEqual([
      "nexthop/add/",
      "nexthop/add/",
      "nexthop/add/",
      "route/add/",
      "route/delete/",
      "nexthop/delete/12",
      "nexthop/delete/10",
      "nexthop/delete/11",
    ]);
    expect(applyOps(observed, ops)).toMatchObject({
      routes: observedOf(desired.routes, desired.nexthops).routes,
    });
  });

  it("without prune, nothing is deleted; replaces still happen", () => {
    const observed = observedOf(
      [viaObject("10.1.0.0/16", 10), viaObject("10.2.0.0/16", 10)],
      [nh(10, "10.114.0.3")],
    );
    const desired = {
      routes: [viaObject("10.1.0.0/16", 11)],
      nexthops: [nh(10, "10.114.0.3"), nh(11, "10.114.0.4")],
      rules: [],
    };
    expect(diff(desired, observed, { prune: false }).map((o) => `${o.object}/${o.action}`)).toEqual([
      "nexthop/add",
      "route/replace",
    ]);
  });

  it("a nexthop that changes kind is deleted first and re-added; its routes are re-added after it", () => {
    const observed = observedOf(
      [viaObject("10.1.0.0/16", 10)],
      [nh(10, "10.114.0.3"), nh(11, "10.114.0.4"), nh(12, "10.114.0.5")],
    );
    const desired = {
      routes: [viaObject("10.1.0.0/16", 10)],
      nexthops: [group(10, [11, 12]), nh(11, "10.114.0.4"), nh(12, "10.114.0.5")],
      rules: [],
    };
    const ops = diff(desired, observed, { prune: true });
    // The kernel flushes the route with its nexthop, so the route is added again after the new group.
    expect(ops.map((o) => `${o.object}/${o.action}`)).toEqual(["nexthop/delete", "nexthop/add", "route/add"]);
    expect(diff(desired, applyOps(observed, ops), { prune: true })).toEqual([]);
  });

  it("a route moving between inline gateways and a nexthop object is one replace", () => {
    const inline: KernelRoute = { ...stale, dst: "10.1.0.0/16" as never };
    const observed = observedOf([inline], [nh(10, "10.114.0.3")]);
    const desired = { routes: [viaObject("10.1.0.0/16", 10)], nexthops: [nh(10, "10.114.0.3")], rules: [] };
    expect(diff(desired, observed, { prune: true }).map((o) => `${o.object}/${o.action}`)).toEqual([
      "route/replace",
    ]);
  });

  it("an empty desired table and an empty kernel give nothing", () => {
    expect(
      diff(
        { routes: [], nexthops: [], rules: [] },
        { ...emptyKernelState(), routes: emptyHashMap() },
        { prune: true },
      ),
    ).toEqual([]);
  });
});

describe("reduce: settings and kernel", () => {
  it("agent/configured replaces the settings and recomputes everything with them", () => {
    let state = reduce(readyState(), ev({ type: "route/upserted", route: basic }));
    const settings = { ...DEFAULT_SETTINGS, metric: 77, nexthopMode: "multipath" as const };
    state = reduce(state, ev({ type: "agent/configured", node: NODE, settings } as EngineEvent));
    expect(state.settings).toEqual(settings);
    expect(desiredTable(state).routes.every((r) => r.metric === 77 && r.target.kind === "gateways")).toBe(
      true,
    );
    expect(desiredTable(state).nexthops).toEqual([]);
  });

  it("keeps only owned objects from a dump", () => {
    const mine = { ...stale };
    const state = reduce(
      readyState(),
      ev({ type: "kernel/observed", node: NODE, snapshot: { ...emptySnapshot, routes: [foreign, mine] } }),
    );
    expect(ownedObjects(state.kernel).routes).toEqual([mine]);
  });
});
