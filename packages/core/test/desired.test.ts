import { describe, expect, it } from "vitest";
import { desiredTable, routeOutcome } from "../src/desired.ts";
import type { KernelNexthop, KernelRoute, Op, OpResult } from "../src/kernel.ts";
import { secondStage, splitBeforeOverride } from "../src/override-stages.ts";
import { plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import type { RouteObject } from "../src/route.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";
import { ev, hostFacts, ip, MULTIPATH, NODE, readyState, reduceAll, route } from "./fixtures.ts";

function upsert(state: NodeState, ...routes: ReturnType<typeof route>[]): NodeState {
  return reduceAll(
    state,
    routes.map((r) => ev({ type: "route/upserted", route: r })),
  );
}

function probe(state: NodeState, gateway: string, up: boolean, ms = 0): NodeState {
  return reduce(
    state,
    ev({ type: "probe/result", node: NODE, gateway: gateway as never, up, rttMs: 1.5 }, ms),
  );
}

function routeTo(state: NodeState, dst: string, table = 254): KernelRoute | undefined {
  return desiredTable(state).routes.find((r) => r.dst === dst && r.table === table);
}

function nexthop(state: NodeState, id: number): KernelNexthop | undefined {
  return desiredTable(state).nexthops.find((n) => n.id === id);
}

/** A multipath-mode route's inline nexthops, as "gateway@dev". */
function inlineVia(state: NodeState, dst: string, table = 254): string[] {
  const t = routeTo(state, dst, table)?.target;
  return t?.kind === "gateways" ? t.nexthops.map((n) => `${n.gateway}@${n.dev}`) : [];
}

/** Gateways a desired route sends traffic to, whatever its target kind. */
function gatewaysOf(state: NodeState, r: KernelRoute | undefined): string[] {
  if (r === undefined) return [];
  if (r.target.kind === "gateways") return r.target.nexthops.map((n) => n.gateway);
  if (r.target.kind !== "nexthop-object") return [];
  const object = nexthop(state, r.target.id);
  if (object?.kind === "gateway") return [object.gateway];
  return (object?.kind === "group" ? object.members : []).map((m) => {
    const member = nexthop(state, m.id);
    return member?.kind === "gateway" ? member.gateway : "?";
  });
}

const twoGateways = { destinations: ["1.2.3.4/5"], gateways: ["10.114.0.3", "10.114.0.4"] };

describe("desiredTable: routes via healthy gateways (SPEC §3.2, §3.3)", () => {
  for (const [mode, settings] of [
    ["groups", DEFAULT_SETTINGS],
    ["multipath", MULTIPATH],
  ] as const) {
    it(`${mode}: ECMP over both gateways, host bits cleared, kroute protocol and metric`, () => {
      const state = upsert(readyState(settings), route("basic", twoGateways));
      const r = routeTo(state, "0.0.0.0/5");
      expect(r).toMatchObject({ family: 4, table: 254, metric: 50, protocol: 201, scope: 0 });
      expect(gatewaysOf(state, r).sort()).toEqual(["10.114.0.3", "10.114.0.4"]);
      expect(routeOutcome(state, "basic")?.destinations[0]).toMatchObject({
        destination: "1.2.3.4/5",
        prefix: "0.0.0.0/5",
        state: "pending",
        gateways: ["10.114.0.3", "10.114.0.4"],
      });
    });

    it(`${mode}: a down gateway leaves the set; unknown counts as up; it returns when up`, () => {
      let state = upsert(readyState(settings), route("basic", twoGateways));
      state = probe(state, "10.114.0.3", false);
      expect(gatewaysOf(state, routeTo(state, "0.0.0.0/5"))).toEqual(["10.114.0.4"]);
      state = probe(state, "10.114.0.3", true);
      expect(gatewaysOf(state, routeTo(state, "0.0.0.0/5")).sort()).toEqual(["10.114.0.3", "10.114.0.4"]);
    });

    it(`${mode}: all gateways down keeps all of them, reported as fail-static`, () => {
      let state = upsert(readyState(settings), route("basic", twoGateways));
      state = probe(probe(state, "10.114.0.3", false), "10.114.0.4", false);
      expect(gatewaysOf(state, routeTo(state, "0.0.0.0/5")).sort()).toEqual(["10.114.0.3", "10.114.0.4"]);
      expect(routeOutcome(state, "basic")?.destinations[0]).toMatchObject({ failStatic: true });
      expect(desiredTable(state).gateways.map((g) => g.state)).toEqual(["down", "down"]);
    });
  }

  it("groups: a gateway failure changes only the shared group, whatever the number of routes", () => {
    const many = Array.from({ length: 50 }, (_, i) => `192.168.${i}.0/24`);
    let state = upsert(
      readyState(),
      route("many", { destinations: many, gateways: ["10.114.0.3", "10.114.0.4"] }),
    );
    const before = desiredTable(state);
    state = probe(state, "10.114.0.4", false);
    const after = desiredTable(state);
    expect(after.routes).toEqual(before.routes);
    const changed = after.nexthops.filter(
      (n) => !before.nexthops.some((b) => JSON.stringify(b) === JSON.stringify(n)),
    );
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ kind: "group", groupType: "resilient" });
  });

  it("probe: false trusts the gateways; another Route probing the same set still sees real health", () => {
    let state = upsert(
      readyState(),
      route("trusting", { ...twoGateways, probe: false }),
      route("probing", { destinations: ["172.16.0.0/12"], gateways: ["10.114.0.3", "10.114.0.4"] }),
    );
    state = probe(state, "10.114.0.3", false);
    expect(gatewaysOf(state, routeTo(state, "0.0.0.0/5")).sort()).toEqual(["10.114.0.3", "10.114.0.4"]);
    expect(gatewaysOf(state, routeTo(state, "172.16.0.0/12"))).toEqual(["10.114.0.4"]);
  });

  it("gateway status: up or down with rtt and since, unknown before a probe, unprobed when nobody probes it", () => {
    let state = upsert(
      readyState(),
      route("probing", { destinations: ["10.20.0.0/16"], gateways: ["10.114.0.3", "10.114.0.4"] }),
      route("trusting", { destinations: ["10.21.0.0/16"], gateways: ["10.114.0.5"], probe: false }),
    );
    state = probe(state, "10.114.0.3", false, 2000);
    expect(desiredTable(state).gateways).toEqual([
      {
        gateway: "10.114.0.3",
        state: "down",
        rttMs: 1.5,
        since: "2026-01-01T00:00:02.000Z",
        usedBy: ["probing"],
      },
      { gateway: "10.114.0.4", state: "unknown", usedBy: ["probing"] },
      { gateway: "10.114.0.5", state: "unprobed", usedBy: ["trusting"] },
    ]);
  });

  it("one gateway: the route points at the gateway nexthop itself, no group", () => {
    const state = upsert(
      readyState(),
      route("single", { destinations: ["10.200.0.0/16"], gateways: ["10.114.0.3"] }),
    );
    const r = routeTo(state, "10.200.0.0/16");
    expect(r?.target.kind).toBe("nexthop-object");
    if (r?.target.kind !== "nexthop-object") return;
    expect(nexthop(state, r.target.id)).toMatchObject({
      kind: "gateway",
      gateway: "10.114.0.3",
      dev: "eth1",
    });
  });

  it("distinct gateway sets get distinct groups; the same set is shared by Routes", () => {
    const state = upsert(
      readyState(),
      route("a", { destinations: ["10.201.0.0/16"], gateways: ["10.114.0.3", "10.114.0.4"] }),
      route("b", { destinations: ["10.202.0.0/16"], gateways: ["10.114.0.4", "10.114.0.3"] }),
      route("c", { destinations: ["10.203.0.0/16"], gateways: ["10.114.0.3", "10.114.0.5"] }),
    );
    const id = (dst: string) => {
      const t = routeTo(state, dst)?.target;
      return t?.kind === "nexthop-object" ? t.id : undefined;
    };
    expect(id("10.201.0.0/16")).toBe(id("10.202.0.0/16"));
    expect(id("10.203.0.0/16")).not.toBe(id("10.201.0.0/16"));
    const ids = desiredTable(state).nexthops.map((n) => n.id);
    for (const n of ids)
      expect(n - DEFAULT_SETTINGS.nexthopIdBase).toBeLessThan(DEFAULT_SETTINGS.nexthopIdCount);
  });

  it("nexthop ids are stable: the same objects get the same ids in a fresh state", () => {
    const a = upsert(readyState(), route("a", twoGateways));
    const b = upsert(readyState(), route("zzz", { ...twoGateways, destinations: ["9.9.9.0/24"] }));
    expect(desiredTable(a).nexthops.map((n) => n.id)).toEqual(desiredTable(b).nexthops.map((n) => n.id));
  });
});

describe("desiredTable: nexthop id range", () => {
  it("reports routes left without an id when the owned range is full, and recovers when room returns", () => {
    const settings = { ...DEFAULT_SETTINGS, nexthopIdCount: 2 };
    let state = upsert(
      readyState(settings),
      route("a", { destinations: ["10.1.0.0/16"], gateways: ["10.114.0.3"] }),
      route("b", { destinations: ["10.2.0.0/16"], gateways: ["10.114.0.4"] }),
      route("c", { destinations: ["10.3.0.0/16"], gateways: ["10.114.0.5"] }),
    );
    const states = ["a", "b", "c"].map((name) => routeOutcome(state, name)?.destinations[0]?.state);
    expect(states.filter((s) => s === "pending")).toHaveLength(2);
    expect(states.filter((s) => s === "invalid")).toHaveLength(1);
    expect(desiredTable(state).routes).toHaveLength(2);
    const ids = desiredTable(state).nexthops.map((n) => n.id);
    expect(ids.every((id) => id >= settings.nexthopIdBase && id < settings.nexthopIdBase + 2)).toBe(true);
    const starved = ["a", "b", "c"].find(
      (name) => routeOutcome(state, name)?.destinations[0]?.state === "invalid",
    );
    const other = ["a", "b", "c"].find((name) => name !== starved) ?? "";
    state = reduce(state, ev({ type: "route/deleted", name: other }));
    expect(routeOutcome(state, starved ?? "")?.destinations[0]?.state).toBe("pending");
    expect(desiredTable(state).routes).toHaveLength(2);
  });

  it("a nexthop displaced from its id by a newer object gets one again when one frees up", () => {
    // The range holds the first keys in sorted order: gw|10.114.0.3 (Route a) displaces gw|10.114.0.5 (Route c).
    const settings = { ...DEFAULT_SETTINGS, nexthopIdCount: 2 };
    let state = upsert(
      readyState(settings),
      route("c", { destinations: ["10.3.0.0/16"], gateways: ["10.114.0.5"] }),
      route("b", { destinations: ["10.2.0.0/16"], gateways: ["10.114.0.4"] }),
      route("a", { destinations: ["10.1.0.0/16"], gateways: ["10.114.0.3"] }),
    );
    expect(routeOutcome(state, "c")?.destinations[0]).toMatchObject({
      state: "invalid",
      reason: "no nexthop id left in kroute's id range",
    });
    state = reduce(state, ev({ type: "route/deleted", name: "b" }));
    expect(routeOutcome(state, "c")?.destinations[0]?.state).toBe("pending");
    expect(gatewaysOf(state, routeTo(state, "10.3.0.0/16"))).toEqual(["10.114.0.5"]);
  });

  it("a gateway set goes through all of its gateways or, short of ids for them, through none", () => {
    // Two gateways and their group need three ids: with two, the group must not stand for the set.
    const settings = { ...DEFAULT_SETTINGS, nexthopIdCount: 2 };
    let state = upsert(
      readyState(settings),
      route("pair", { destinations: ["10.10.0.0/16"], gateways: ["10.114.0.3", "10.114.0.5"] }),
    );
    const starved = { state: "invalid", reason: "no nexthop id left in kroute's id range" };
    expect(routeTo(state, "10.10.0.0/16")).toBeUndefined();
    expect(routeOutcome(state, "pair")?.destinations[0]).toMatchObject(starved);
    state = probe(state, "10.114.0.3", false);
    expect(routeTo(state, "10.10.0.0/16")).toBeUndefined();
    expect(routeOutcome(state, "pair")?.destinations[0]).toMatchObject(starved);
    state = probe(state, "10.114.0.3", true);
    // Every desired route points at a desired nexthop.
    for (const r of desiredTable(state).routes) {
      if (r.target.kind === "nexthop-object") expect(nexthop(state, r.target.id)).toBeDefined();
    }
  });
});

describe("desiredTable: selection and validity", () => {
  it("nothing is selected until the node has been observed", () => {
    let state = initialNodeState(NODE, DEFAULT_SETTINGS);
    state = upsert(reduce(state, ev(hostFacts())), route("basic", twoGateways));
    expect(desiredTable(state).routes).toEqual([]);
    // Not selected here yet, and the Route's verdict is the one every node gives.
    expect(routeOutcome(state, "basic")).toMatchObject({
      selected: false,
      accepted: true,
      reason: "Accepted",
    });
    state = reduce(state, ev({ type: "node/observed", node: NODE, labels: {} }));
    expect(routeTo(state, "0.0.0.0/5")).toBeDefined();
  });

  it("a nodeSelector is re-evaluated when the node's labels change", () => {
    const selector = {
      nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["workers"] }] }],
    };
    let state = upsert(readyState(), route("pinned", { ...twoGateways, nodeSelector: selector }));
    expect(desiredTable(state).routes).toEqual([]);
    state = reduce(state, ev({ type: "node/observed", node: NODE, labels: { pool: "workers" } }));
    expect(routeTo(state, "0.0.0.0/5")).toBeDefined();
    state = reduce(state, ev({ type: "node/observed", node: NODE, labels: { pool: "other" } }));
    expect(desiredTable(state).routes).toEqual([]);
  });

  it("events for another node are ignored", () => {
    const state = readyState();
    const other = reduce(state, ev({ type: "node/observed", node: "node-b", labels: { x: "y" } }));
    expect(other).toBe(state);
  });

  it("a destination that is not a string, however deep or long, is refused by a short name, the rest routed", () => {
    // A CRD without a schema lets anything through; JSON.stringify throws past a few
    // thousand levels and copies megabytes into the status.
    let deep: unknown = "10.1.0.0/16";
    for (let level = 0; level < 10_000; level++) deep = [deep];
    const huge = { note: "x".repeat(1_000_000) };
    const state = upsert(
      readyState(),
      route("hostile", { destinations: ["10.9.0.0/16", deep, huge] as string[], gateways: ["10.114.0.3"] }),
    );
    expect(routeTo(state, "10.9.0.0/16")).toBeDefined();
    const outcome = routeOutcome(state, "hostile");
    expect(outcome?.destinations.map((d) => [d.destination, d.state, d.reason])).toEqual([
      ["10.9.0.0/16", "pending", "not yet applied"],
      ["a list", "invalid", "spec.destinations[1]: a list is not a string"],
      ["an object", "invalid", "spec.destinations[2]: an object is not a string"],
    ]);
  });

  it("only the tables the operator lets Routes write (--route-tables) are written", () => {
    const settings = {
      ...DEFAULT_SETTINGS,
      routeTables: [
        { first: 254, last: 254 },
        { first: 100, last: 199 },
      ],
    };
    const state = upsert(
      readyState(settings),
      route("main", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"] }),
      route("ranged", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"], table: 199 }),
      route("vpn", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"], table: 51820 }),
    );
    expect(desiredTable(state).routes.map((r) => r.table)).toEqual([199, 254]);
    expect(routeOutcome(state, "vpn")).toMatchObject({
      accepted: false,
      reason: "NoUsableDestination",
      message:
        "10.9.0.0/16: spec.table: 51820 is not a table this agent lets Routes write (--route-tables 254,100-199)",
    });
  });

  it("protected destinations are refused for that destination only (SPEC §3.7)", () => {
    const settings = { ...DEFAULT_SETTINGS, protectedPrefixes: ["10.96.0.0/12" as never] };
    const state = upsert(
      readyState(settings),
      route("mixed", {
        destinations: [
          "127.0.0.1/32",
          "169.254.1.0/24",
          "224.0.0.0/8",
          "10.96.1.0/24",
          "10.0.0.0/8",
          "0.0.0.0/5",
        ],
        gateways: ["10.114.0.3"],
      }),
    );
    const outcome = routeOutcome(state, "mixed");
    expect(outcome?.destinations.map((d) => d.state)).toEqual([
      "invalid",
      "invalid",
      "invalid",
      "invalid",
      "pending",
      "pending",
    ]);
    expect(outcome?.destinations[3]?.reason).toContain("10.96.0.0/12");
    expect(
      desiredTable(state)
        .routes.map((r) => r.dst)
        .sort(),
    ).toEqual(["0.0.0.0/5", "10.0.0.0/8"]);
  });

  it("dual stack: each destination goes via gateways of its own family (SPEC §3.13)", () => {
    const state = upsert(
      readyState(),
      route("dual", {
        destinations: ["10.50.0.0/16", "fd50::/48"],
        gateways: ["10.114.0.3", "fd00::1", "fd00::2"],
      }),
    );
    expect(gatewaysOf(state, routeTo(state, "10.50.0.0/16"))).toEqual(["10.114.0.3"]);
    expect(gatewaysOf(state, routeTo(state, "fd50::/48")).sort()).toEqual(["fd00::1", "fd00::2"]);
    expect(routeTo(state, "fd50::/48")?.family).toBe(6);
  });

  it("a destination with no gateway of its family is an error for that destination only", () => {
    const state = upsert(
      readyState(),
      route("v4only", { destinations: ["10.50.0.0/16", "fd50::/48"], gateways: ["10.114.0.3"] }),
    );
    const [v4, v6] = routeOutcome(state, "v4only")?.destinations ?? [];
    expect(v4?.state).toBe("pending");
    expect(v6).toMatchObject({ state: "invalid" });
    expect(v6?.reason).toContain("IPv6");
  });

  it("a gateway on no connected network is not on-link", () => {
    const state = upsert(
      readyState(),
      route("far", { destinations: ["10.50.0.0/16"], gateways: ["192.0.2.1"] }),
    );
    expect(routeOutcome(state, "far")?.destinations[0]).toMatchObject({
      state: "invalid",
      reason: "gateway 192.0.2.1 is not on-link: no connected network of the node contains it",
    });
    expect(desiredTable(state).routes).toEqual([]);
  });

  it("an off-link gateway leaves the set when another gateway of the family is on-link, and status says so", () => {
    const state = upsert(
      readyState(),
      route("partly", { destinations: ["10.50.0.0/16"], gateways: ["192.0.2.1", "10.114.0.3"] }),
    );
    expect(gatewaysOf(state, routeTo(state, "10.50.0.0/16"))).toEqual(["10.114.0.3"]);
    const outcome = routeOutcome(state, "partly");
    const note = "gateway 192.0.2.1 left out: not on-link (no connected network of the node contains it)";
    // The node's own word, on the destination; the Route's verdict does not depend on the node.
    expect(outcome).toMatchObject({ accepted: true, reason: "Accepted" });
    expect(outcome?.message).toBeUndefined();
    expect(outcome?.destinations[0]).toMatchObject({ gateways: ["10.114.0.3"], leftOut: note });
    expect(outcome?.destinations[0]?.reason).toContain(note);
  });

  it("a gateway's device is the longest connected network containing it (kernel addresses count too)", () => {
    let state = readyState();
    state = reduce(
      state,
      ev({
        type: "kernel/observed",
        node: NODE,
        snapshot: {
          routes: [],
          nexthops: [],
          rules: [],
          links: [],
          addresses: [{ ip: "10.114.0.200" as never, prefixLength: 28, dev: "wg0" }],
          complete: true,
        },
      }),
    );
    state = upsert(
      state,
      route("narrow", { destinations: ["10.60.0.0/16"], gateways: ["10.114.0.193"] }),
      route("wide", { destinations: ["10.61.0.0/16"], gateways: ["10.114.0.3"] }),
    );
    const devOf = (dst: string) => {
      const t = routeTo(state, dst)?.target;
      const o = t?.kind === "nexthop-object" ? nexthop(state, t.id) : undefined;
      return o?.kind === "gateway" ? o.dev : undefined;
    };
    expect(devOf("10.60.0.0/16")).toBe("wg0");
    expect(devOf("10.61.0.0/16")).toBe("eth1");
  });

  it("a link-local gateway, on-link on every device, goes out of the device of the node's default route", () => {
    let state = readyState();
    // Every device has a link-local network, pod veths included; eth0 carries the default route.
    const linkLocal = ["cali0a1b2c", "eth1", "eth0"].map((dev, i) => ({
      ip: `fe80::${i + 1}` as never,
      prefixLength: 64,
      dev,
    }));
    state = reduce(
      state,
      ev({
        type: "kernel/observed",
        node: NODE,
        snapshot: { routes: [], nexthops: [], rules: [], links: [], addresses: linkLocal, complete: true },
      }),
    );
    state = upsert(state, route("v6", { destinations: ["fd50::/48"], gateways: ["fe80::a"] }));
    const deviceOf = () => {
      const t = routeTo(state, "fd50::/48")?.target;
      return t?.kind === "nexthop-object" ? nexthop(state, t.id) : undefined;
    };
    expect(deviceOf()).toMatchObject({ kind: "gateway", gateway: "fe80::a", dev: "eth0" });
    // With an IPv6 default route of its own (via the router on eth1), the IPv6 default's device wins.
    const dualStack = hostFacts({
      defaultGateways: [
        { via: "10.0.0.1" as never, dev: "eth0", metric: 100 },
        { via: "fe80::1" as never, dev: "eth1", metric: 1024 },
      ],
    });
    state = reduce(state, ev(dualStack));
    expect(deviceOf()).toMatchObject({ kind: "gateway", gateway: "fe80::a", dev: "eth1" });
  });

  it("a new expiry of the original default route (its router advertised again) recomputes nothing", () => {
    const raDefault = (expiresAt: string) =>
      ev(hostFacts({ defaultGateways: [{ via: ip("fe80::1"), dev: "eth0", metric: 1024, expiresAt }] }));
    let state = upsert(
      reduce(readyState(), raDefault("2026-01-01T00:30:00.000Z")),
      route("egress", { destinations: ["::/0"], gateways: ["fd00::3"] }),
    );
    const before = state.derived;
    state = reduce(state, raDefault("2026-01-01T00:40:00.000Z"));
    expect(state.host.facts?.defaultGateways[0]?.expiresAt).toBe("2026-01-01T00:40:00.000Z");
    expect(state.derived).toBe(before);
  });

  it("address churn recomputes nothing unless it moves a gateway in use on or off link", () => {
    let state = upsert(
      readyState(),
      route("far", { destinations: ["10.50.0.0/16"], gateways: ["192.0.2.1"] }),
    );
    const address = (ip: string, dev: string, action: "new" | "del") =>
      ev({
        type: "kernel/changed",
        node: NODE,
        change: { kind: "address", action, address: { ip: ip as never, prefixLength: 24, dev } },
      });
    const before = state.derived;
    state = reduce(state, address("172.30.0.1", "veth123", "new"));
    expect(state.derived).toBe(before);
    state = reduce(state, address("192.0.2.10", "wg0", "new"));
    expect(routeOutcome(state, "far")?.destinations[0]?.state).toBe("pending");
    expect(desiredTable(state).routes.map((r) => r.dst)).toEqual(["10.50.0.0/16"]);
    state = reduce(state, address("192.0.2.10", "wg0", "del"));
    expect(desiredTable(state).routes).toEqual([]);
  });

  it("a node that is one of a destination's gateways does not route it, through itself or its peers", () => {
    // node-a is 10.114.0.10 (eth1) and fd00::10: a NAT gateway that is itself a node.
    const state = upsert(
      readyState(),
      route("nat", {
        destinations: ["10.50.0.0/16", "fd50::/48"],
        gateways: ["10.114.0.10", "10.114.0.4", "fd00::10"],
      }),
      route("vpn", { destinations: ["10.60.0.0/16"], gateways: ["10.114.0.3"] }),
    );
    expect(desiredTable(state).routes.map((r) => r.dst)).toEqual(["10.60.0.0/16"]);
    const outcome = routeOutcome(state, "nat");
    expect(outcome).toMatchObject({ accepted: true, reason: "Accepted" });
    expect(outcome?.destinations).toMatchObject([
      {
        destination: "10.50.0.0/16",
        state: "skipped",
        reason:
          "not routed on this node: it is the gateway 10.114.0.10 (a gateway node keeps its own way out)",
      },
      { destination: "fd50::/48", state: "skipped", reason: expect.stringContaining("fd00::10") },
    ]);
    expect(outcome?.message).toBeUndefined();
  });

  it("a link-local gateway is the node itself only on the device it goes out of", () => {
    // The router fe80::1 on the uplink eth0; a bridge (docker0) that also holds fe80::1.
    const facts = hostFacts({
      defaultGateways: [{ via: "fe80::1" as never, dev: "eth0", metric: 1024 }],
    });
    const addresses = [
      { ip: "fe80::a" as never, prefixLength: 64, dev: "eth0" },
      { ip: "fe80::1" as never, prefixLength: 64, dev: "docker0" },
    ];
    const kernel = ev({
      type: "kernel/observed",
      node: NODE,
      snapshot: { routes: [], nexthops: [], rules: [], links: [], addresses, complete: true },
    });
    let state = reduceAll(readyState(), [ev(facts), kernel]);
    state = upsert(
      state,
      route("router", { destinations: ["fd50::/48"], gateways: ["fe80::1"] }),
      route("self", { destinations: ["fd51::/48"], gateways: ["fe80::a"] }),
    );
    const t = routeTo(state, "fd50::/48")?.target;
    const o = t?.kind === "nexthop-object" ? nexthop(state, t.id) : undefined;
    expect(o).toMatchObject({ kind: "gateway", gateway: "fe80::1", dev: "eth0" });
    expect(routeOutcome(state, "self")?.destinations[0]?.state).toBe("skipped");
  });

  it("a gateway node keeps its own default route: no override, no pinned host routes, no reply rule", () => {
    const state = upsert(
      readyState(),
      route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.10"] }),
    );
    expect(desiredTable(state)).toMatchObject({ routes: [], nexthops: [], rules: [] });
    expect(routeOutcome(state, "egress")?.destinations[0]?.state).toBe("skipped");
  });

  it("a node that gains or loses a gateway's address stops or starts routing through it", () => {
    let state = upsert(
      readyState(),
      route("nat", { destinations: ["10.50.0.0/16"], gateways: ["10.114.0.3", "10.114.0.4"] }),
    );
    const address = (action: "new" | "del") =>
      ev({
        type: "kernel/changed",
        node: NODE,
        change: {
          kind: "address",
          action,
          address: { ip: "10.114.0.4" as never, prefixLength: 20, dev: "eth1" },
        },
      });
    expect(desiredTable(state).routes.map((r) => r.dst)).toEqual(["10.50.0.0/16"]);
    state = reduce(state, address("new"));
    expect(desiredTable(state).routes).toEqual([]);
    expect(routeOutcome(state, "nat")?.destinations[0]?.state).toBe("skipped");
    state = reduce(state, address("del"));
    expect(gatewaysOf(state, routeTo(state, "10.50.0.0/16")).sort()).toEqual(["10.114.0.3", "10.114.0.4"]);
  });

  it("an invalid Route is reported and affects nothing else", () => {
    const state = upsert(
      readyState(),
      route("bad", { destinations: ["10.1.0.0/16"], gateways: ["not-an-ip"] }),
      route("good", { destinations: ["10.2.0.0/16"], gateways: ["10.114.0.3"] }),
    );
    expect(routeOutcome(state, "bad")).toMatchObject({ accepted: false, reason: "Invalid" });
    expect(desiredTable(state).routes.map((r) => r.dst)).toEqual(["10.2.0.0/16"]);
  });

  it("a bad destination is reported; the rest of its Route is routed", () => {
    const state = upsert(
      readyState(),
      route("partial", { destinations: ["10.3.0.0/16", "nonsense"], gateways: ["10.114.0.3"] }),
    );
    expect(routeOutcome(state, "partial")?.destinations.map((d) => [d.destination, d.state])).toEqual([
      ["10.3.0.0/16", "pending"],
      ["nonsense", "invalid"],
    ]);
    // The reason names the field and the value.
    expect(routeOutcome(state, "partial")?.destinations[1]?.reason).toMatch(
      /^spec\.destinations\[1\]: "nonsense" is not/,
    );
  });

  it("deleting a Route removes its routes", () => {
    let state = upsert(readyState(), route("basic", twoGateways));
    state = reduce(state, ev({ type: "route/deleted", name: "basic" }));
    expect(desiredTable(state)).toMatchObject({ routes: [], nexthops: [], rules: [] });
  });
});

describe("desiredTable: conflicts (SPEC §3.6)", () => {
  const older = route(
    "zeta",
    { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"] },
    "2025-01-01T00:00:00Z",
  );
  const newer = route(
    "alpha",
    { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.4"] },
    "2025-06-01T00:00:00Z",
  );

  it("the oldest Route wins, whatever the arrival order; the loser names the winner", () => {
    for (const order of [
      [older, newer],
      [newer, older],
    ]) {
      const state = upsert(readyState(), ...order);
      expect(gatewaysOf(state, routeTo(state, "10.9.0.0/16"))).toEqual(["10.114.0.3"]);
      const lost = routeOutcome(state, "alpha")?.destinations[0];
      expect(lost?.state).toBe("conflicted");
      expect(lost?.reason).toContain("zeta");
    }
  });

  it("equal timestamps: the name decides", () => {
    const a = route("a", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"] });
    const b = route("b", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.4"] });
    const state = upsert(readyState(), b, a);
    expect(gatewaysOf(state, routeTo(state, "10.9.0.0/16"))).toEqual(["10.114.0.3"]);
    expect(routeOutcome(state, "b")?.destinations[0]?.state).toBe("conflicted");
  });

  it("a Route without a creationTimestamp counts as the oldest", () => {
    const untimed: RouteObject = {
      metadata: { name: "zz-hand-written", generation: 1 },
      spec: { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.4"] },
    };
    const state = upsert(readyState(), older, untimed);
    expect(gatewaysOf(state, routeTo(state, "10.9.0.0/16"))).toEqual(["10.114.0.4"]);
    expect(routeOutcome(state, "zeta")?.destinations[0]?.reason).toContain("zz-hand-written");
  });

  it("creation times compare as times: an offset or a fraction does not reorder them", () => {
    // 00:30+01:00 is 23:30 the day before, older than 2025-01-01T00:00:00Z, though it sorts after as text.
    const offset = route(
      "offset",
      { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.4"] },
      "2025-01-01T00:30:00+01:00",
    );
    const state = upsert(readyState(), older, offset);
    expect(gatewaysOf(state, routeTo(state, "10.9.0.0/16"))).toEqual(["10.114.0.4"]);
    const fraction = route(
      "fraction",
      { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.4"] },
      "2025-01-01T00:00:00.5Z",
    );
    const later = upsert(readyState(), older, fraction);
    expect(gatewaysOf(later, routeTo(later, "10.9.0.0/16"))).toEqual(["10.114.0.3"]);
  });

  it("the same prefix in different tables does not conflict", () => {
    const state = upsert(
      readyState(),
      older,
      route("other-table", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.4"], table: 100 }),
    );
    expect(routeTo(state, "10.9.0.0/16", 254)).toBeDefined();
    expect(routeTo(state, "10.9.0.0/16", 100)).toBeDefined();
  });

  it("when the winner goes, the runner-up takes over", () => {
    let state = upsert(readyState(), older, newer);
    state = reduce(state, ev({ type: "route/deleted", name: "zeta" }));
    expect(gatewaysOf(state, routeTo(state, "10.9.0.0/16"))).toEqual(["10.114.0.4"]);
  });
});

describe("desiredTable: default-route override (SPEC §3.5)", () => {
  const override = route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.4"] });

  it("protected host routes go via the original gateway, the override is a second default route", () => {
    const state = upsert(readyState(MULTIPATH), override);
    const via = (dst: string, table = 254) => inlineVia(state, dst, table);
    for (const dst of ["203.0.113.100/32", "198.51.100.53/32", "169.254.169.254/32"])
      expect(via(dst)).toEqual(["10.0.0.1@eth0"]);
    expect(via("0.0.0.0/0")).toEqual(["10.114.0.3@eth1", "10.114.0.4@eth1"]);
    expect(routeTo(state, "0.0.0.0/0")).toMatchObject({ metric: 50, protocol: 201 });
  });

  it("pins no protected address a default route could not capture: on a connected network, or loopback", () => {
    let state = readyState(MULTIPATH);
    // The API server on the VPC network (eth1), a local stub resolver, a resolver on eth0's subnet.
    const facts = hostFacts({
      apiServers: ["10.114.8.5" as never, "203.0.113.100" as never],
      dns: ["127.0.0.53" as never, "10.0.0.53" as never],
    });
    state = upsert(reduce(state, ev(facts)), override);
    const pinned = desiredTable(state)
      .routes.filter((r) => r.table === 254 && r.dst !== "0.0.0.0/0")
      .map((r) => r.dst);
    expect(pinned.sort()).toEqual(["169.254.169.254/32", "203.0.113.100/32"]);
    // The VPC network narrowing to a /21 leaves the API server behind the default route: now it is pinned.
    state = reduce(
      state,
      ev({
        ...facts,
        addresses: [
          { ip: "10.0.0.10" as never, dev: "eth0", prefixLength: 24 },
          { ip: "10.114.0.10" as never, dev: "eth1", prefixLength: 21 },
        ],
      } as typeof facts),
    );
    expect(routeTo(state, "10.114.8.5/32")?.target).toEqual({
      kind: "gateways",
      nexthops: [{ gateway: "10.0.0.1", dev: "eth0", weight: 1 }],
    });
  });

  it("replies from the node's addresses on the original interface use the reply table", () => {
    const state = upsert(readyState(MULTIPATH), override);
    const reply = routeTo(state, "0.0.0.0/0", 135);
    expect(reply?.target).toEqual({
      kind: "gateways",
      nexthops: [{ gateway: "10.0.0.1", dev: "eth0", weight: 1 }],
    });
    expect(desiredTable(state).rules).toEqual([
      // Main without its default routes and halves first: replies to pods and to the
      // node's subnets keep main's specific routes; the rest goes to the reply table.
      { family: 4, priority: 1349, table: 254, protocol: 201, suppressPrefixLength: 1 },
      { family: 4, priority: 1350, src: "10.0.0.10/32", table: 135, protocol: 201 },
    ]);
  });

  it("no Route writes the reply table: its /1 there would take the node's replies off the original gateway", () => {
    // Older than the override, so age does not decide it; the reply table is kroute's own.
    const intoReplies = route(
      "replies",
      { destinations: ["0.0.0.0/1", "128.0.0.0/1"], gateways: ["10.114.0.4"], table: 135 },
      "2020-01-01T00:00:00Z",
    );
    const state = upsert(readyState(MULTIPATH), override, intoReplies);
    expect(
      desiredTable(state)
        .routes.filter((r) => r.table === 135)
        .map((r) => r.dst),
    ).toEqual(["0.0.0.0/0"]);
    expect(inlineVia(state, "0.0.0.0/0", 135)).toEqual(["10.0.0.1@eth0"]);
    const outcome = routeOutcome(state, "replies");
    expect(outcome).toMatchObject({ accepted: false, reason: "NoUsableDestination" });
    expect(outcome?.destinations.map((d) => [d.destination, d.state, d.reason])).toEqual(
      ["0.0.0.0/1", "128.0.0.0/1"].map((dst) => [
        dst,
        "invalid",
        "spec.table: 135 is kroute's reply table (--table-reply), which keeps the node's replies on its original default gateway; no Route may write it",
      ]),
    );
    // The reply table is the agent's setting: elsewhere 135 is an ordinary table.
    const moved = upsert(readyState({ ...MULTIPATH, replyTable: 200 }), override, intoReplies);
    expect(inlineVia(moved, "0.0.0.0/1", 135)).toEqual(["10.114.0.4@eth1"]);
    expect(inlineVia(moved, "0.0.0.0/0", 200)).toEqual(["10.0.0.1@eth0"]);
  });

  it("wider protected CIDRs from the host facts are routed via the original gateway too", () => {
    let state = readyState(MULTIPATH);
    state = reduce(
      state,
      ev(hostFacts({ protect: ["169.254.169.254/32" as never, "100.64.0.0/10" as never] })),
    );
    state = upsert(state, override);
    expect(routeTo(state, "100.64.0.0/10")).toBeDefined();
  });

  it("splits the override in halves when the original default route's metric cannot be undercut (metric 0)", () => {
    let state = readyState(MULTIPATH);
    state = reduce(state, ev(hostFacts({ defaultGateways: [{ via: "10.0.0.1" as never, dev: "eth0" }] })));
    state = upsert(state, override);
    const via = (dst: string, table = 254) => inlineVia(state, dst, table);
    const egress = ["10.114.0.3@eth1", "10.114.0.4@eth1"];
    expect(via("0.0.0.0/1")).toEqual(egress);
    expect(via("128.0.0.0/1")).toEqual(egress);
    expect(routeTo(state, "0.0.0.0/0")).toBeUndefined();
    // Protection and replies as for any override: more specific than a half, they still win.
    for (const dst of ["203.0.113.100/32", "198.51.100.53/32", "169.254.169.254/32"])
      expect(via(dst)).toEqual(["10.0.0.1@eth0"]);
    expect(via("0.0.0.0/0", 135)).toEqual(["10.0.0.1@eth0"]);
    expect(desiredTable(state).rules).toMatchObject([
      { table: 254, suppressPrefixLength: 1 },
      { src: "10.0.0.10/32", table: 135 },
    ]);
    const split =
      "split into 0.0.0.0/1 and 128.0.0.0/1: the original default route has metric 0, which kroute's metric 50 cannot undercut";
    expect(routeOutcome(state, "egress")?.destinations[0]).toMatchObject({
      destination: "0.0.0.0/0",
      state: "pending",
      reason: `not yet applied; ${split}`,
    });
    // Programmed once both halves are in the kernel.
    const [first, second] = desiredTable(state).routes.filter((r) => r.dst.endsWith("/1"));
    state = reduce(
      state,
      ev({
        type: "dataplane/applied",
        node: NODE,
        results: [first, second].map((to) => ({
          op: { object: "route", action: "add", to: to as KernelRoute },
          result: { ok: true },
        })),
      }),
    );
    expect(routeOutcome(state, "egress")?.destinations[0]).toMatchObject({
      state: "programmed",
      reason: split,
    });
  });

  it("a split override yields a half to a Route's own destination there, older or newer, as an unsplit one would", () => {
    for (const vpnAge of ["2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]) {
      let state = readyState(MULTIPATH);
      state = reduce(state, ev(hostFacts({ defaultGateways: [{ via: "10.0.0.1" as never, dev: "eth0" }] })));
      const vpn = route("vpn", { destinations: ["0.0.0.0/1"], gateways: ["10.114.0.5"] }, vpnAge);
      state = upsert(state, override, vpn);
      expect(inlineVia(state, "0.0.0.0/1")).toEqual(["10.114.0.5@eth1"]);
      expect(inlineVia(state, "128.0.0.0/1")).toEqual(["10.114.0.3@eth1", "10.114.0.4@eth1"]);
      expect(routeOutcome(state, "vpn")?.destinations[0]).toMatchObject({ state: "pending" });
      expect(routeOutcome(state, "egress")?.destinations[0]).toMatchObject({
        state: "pending",
        reason: expect.stringContaining("0.0.0.0/1 left to Route vpn"),
      });
    }
  });

  it("splits an IPv6 override the same way, and goes back to one default route when the original's metric allows it", () => {
    let state = readyState();
    const facts = (metric: number) =>
      ev(
        hostFacts({
          defaultGateways: [
            { via: "10.0.0.1" as never, dev: "eth0", metric: 100 },
            { via: "fd00::1" as never, dev: "eth1", metric },
          ],
        }),
      );
    state = reduce(state, facts(50));
    state = upsert(state, route("v6", { destinations: ["::/0"], gateways: ["fd00::3"] }));
    const dsts = () =>
      desiredTable(state)
        .routes.filter((r) => r.table === 254)
        .map((r) => r.dst);
    expect(dsts()).toContain("::/1");
    expect(dsts()).toContain("8000::/1");
    expect(dsts()).not.toContain("::/0");
    state = reduce(state, facts(1024));
    expect(dsts()).toContain("::/0");
    expect(dsts().filter((d) => d.endsWith("/1"))).toEqual([]);
  });

  it("waits for host facts before overriding", () => {
    let state = initialNodeState(NODE, DEFAULT_SETTINGS);
    state = reduce(state, ev({ type: "node/observed", node: NODE, labels: {} }));
    state = reduce(
      state,
      ev({
        type: "kernel/observed",
        node: NODE,
        snapshot: {
          routes: [],
          nexthops: [],
          rules: [],
          links: [],
          addresses: [{ ip: "10.114.0.10" as never, prefixLength: 20, dev: "eth1" }],
          complete: true,
        },
      }),
    );
    state = upsert(state, override);
    expect(routeOutcome(state, "egress")?.destinations[0]?.state).toBe("pending");
    expect(desiredTable(state).routes).toEqual([]);
  });

  it("IPv6: ::/0 is overridden beside the original IPv6 default, with its own host routes and reply rule", () => {
    let state = readyState(MULTIPATH);
    state = reduce(
      state,
      ev(
        hostFacts({
          defaultGateways: [
            { via: "10.0.0.1" as never, dev: "eth0", metric: 100 },
            { via: "fe80::1" as never, dev: "eth0", metric: 1024 },
          ],
          addresses: [
            { ip: "10.0.0.10" as never, dev: "eth0", prefixLength: 24 },
            { ip: "2001:db8::10" as never, dev: "eth0", prefixLength: 64 },
            { ip: "fd00::10" as never, dev: "eth1", prefixLength: 64 },
          ],
          dns: ["2001:4860:4860::8888" as never],
          apiServers: [],
          protect: [],
        }),
      ),
    );
    state = upsert(state, route("v6-egress", { destinations: ["::/0"], gateways: ["fd00::1", "fd00::2"] }));
    const via = (dst: string, table = 254) => inlineVia(state, dst, table);
    expect(via("::/0")).toEqual(["fd00::1@eth1", "fd00::2@eth1"]);
    expect(via("2001:4860:4860::8888/128")).toEqual(["fe80::1@eth0"]);
    expect(via("::/0", 135)).toEqual(["fe80::1@eth0"]);
    expect(desiredTable(state).rules).toEqual([
      { family: 6, priority: 1349, table: 254, protocol: 201, suppressPrefixLength: 1 },
      { family: 6, priority: 1350, src: "2001:db8::10/128", table: 135, protocol: 201 },
    ]);
    expect(routeTo(state, "0.0.0.0/0")).toBeUndefined();
  });

  it("an override held back by a refused protection is failed, naming it, until the protection is in", () => {
    let state = upsert(readyState(MULTIPATH), override);
    const apply = (ops: readonly Op[], refused: (op: Op) => boolean, ms: number) =>
      reduce(
        state,
        ev(
          {
            type: "dataplane/applied",
            node: NODE,
            results: ops.map((op) => ({
              op,
              result: refused(op)
                ? { ok: false as const, errno: 17, code: "EEXIST", message: "File exists" }
                : { ok: true as const },
            })),
          },
          ms,
        ),
      );
    const isApiServerRoute = (op: Op) =>
      op.object === "route" && op.action === "add" && op.to.dst === "203.0.113.100/32";
    // As the engine applies it: the override's stage is cut short by the refusal.
    const { first, rest } = splitBeforeOverride(state, plan(state));
    const firstResults = first.map((op) => ({
      op,
      result: isApiServerRoute(op) ? ({ ok: false } as OpResult) : ({ ok: true } as OpResult),
    }));
    state = apply([...first, ...secondStage(state, rest, firstResults)], isApiServerRoute, 0);
    expect(routeOutcome(state, "egress")?.destinations[0]).toMatchObject({
      state: "failed",
      reason:
        "held back: the kernel refused the route that keeps 203.0.113.100/32 on the original gateway (File exists), and the override waits for it",
    });

    state = reduce(state, ev({ type: "timer/fired", node: NODE, timer: "retry" }, 5000));
    state = apply(plan(state), () => false, 5000);
    state = apply(plan(state), () => false, 5000);
    expect(routeOutcome(state, "egress")?.destinations[0]?.state).toBe("programmed");
  });

  it("an override in place whose new protection is refused is failed, naming the address it no longer protects", () => {
    let state = upsert(readyState(MULTIPATH), override);
    const applyAll = (ops: readonly Op[], refused: (op: Op) => boolean) =>
      reduce(
        state,
        ev({
          type: "dataplane/applied",
          node: NODE,
          results: ops.map((op) => ({
            op,
            result: refused(op)
              ? { ok: false as const, errno: 17, code: "EEXIST", message: "File exists" }
              : { ok: true as const },
          })),
        }),
      );
    state = applyAll(plan(state), () => false);
    state = applyAll(plan(state), () => false);
    expect(routeOutcome(state, "egress")?.destinations[0]?.state).toBe("programmed");
    // A second API server endpoint: its protected route is refused, the override stays in.
    state = reduce(state, ev(hostFacts({ apiServers: ["203.0.113.100", "203.0.113.101"] as never })));
    const isNewProtection = (op: Op) =>
      op.object === "route" && op.action === "add" && op.to.dst === "203.0.113.101/32";
    const ops = plan(state);
    expect(ops.some(isNewProtection)).toBe(true);
    state = applyAll(ops, isNewProtection);
    expect(routeOutcome(state, "egress")?.destinations[0]).toMatchObject({
      state: "failed",
      reason:
        "the kernel refused the route that keeps 203.0.113.101/32 on the original gateway (File exists): that address follows the override",
    });
  });

  it("a user Route naming a protected address loses it to the override", () => {
    const pin = route(
      "pin-api",
      { destinations: ["203.0.113.100/32"], gateways: ["10.114.0.4"] },
      "2020-01-01T00:00:00Z",
    );
    const state = upsert(readyState(MULTIPATH), pin, override);
    expect(routeOutcome(state, "pin-api")?.destinations[0]?.state).toBe("conflicted");
  });
});

describe("desiredTable: Routes that capture protected addresses without a default route (SPEC §3.5)", () => {
  const vpn = route("vpn", { destinations: ["0.0.0.0/1", "128.0.0.0/1"], gateways: ["10.114.0.5"] });
  const pinned = (state: NodeState) =>
    desiredTable(state)
      .routes.filter(
        (r) =>
          r.table === 254 && r.target.kind === "gateways" && r.target.nexthops[0]?.gateway === "10.0.0.1",
      )
      .map((r) => r.dst)
      .sort();
  const replyRoutes = (state: NodeState) =>
    desiredTable(state)
      .routes.filter((r) => r.table === 135)
      .map((r) => `${r.dst} via ${gatewaysOf(state, r).join(",")}`);
  const replyRules = [
    { family: 4, priority: 1349, table: 254, protocol: 201, suppressPrefixLength: 1 },
    { family: 4, priority: 1350, src: "10.0.0.10/32", table: 135, protocol: 201 },
  ];

  it("pins the protected addresses a Route's destination holds, via the original gateway", () => {
    const state = upsert(readyState(MULTIPATH), vpn);
    // The fixture's API server, resolver and metadata address are all in 128.0.0.0/1.
    expect(pinned(state)).toEqual(["169.254.169.254/32", "198.51.100.53/32", "203.0.113.100/32"]);
    for (const dst of pinned(state)) expect(inlineVia(state, dst)).toEqual(["10.0.0.1@eth0"]);
    expect(routeTo(state, "128.0.0.0/1")).toBeDefined();
  });

  it("keeps the node's replies under a Route's own half of the address space on the original gateway, as an override does", () => {
    const state = upsert(readyState(MULTIPATH), vpn);
    expect(inlineVia(state, "0.0.0.0/1")).toEqual(["10.114.0.5@eth1"]);
    expect(inlineVia(state, "128.0.0.0/1")).toEqual(["10.114.0.5@eth1"]);
    // Each half in the reply table via the original gateway, and the override's rules.
    expect(replyRoutes(state)).toEqual(["0.0.0.0/1 via 10.0.0.1", "128.0.0.0/1 via 10.0.0.1"]);
    expect(desiredTable(state).rules).toEqual(replyRules);
    // One half: its own reply route only.
    const half = upsert(state, route("vpn", { destinations: ["128.0.0.0/1"], gateways: ["10.114.0.5"] }));
    expect(replyRoutes(half)).toEqual(["128.0.0.0/1 via 10.0.0.1"]);
    expect(desiredTable(half).rules).toEqual(replyRules);
    // Gone with the last half.
    const none = upsert(half, route("vpn", { destinations: ["192.0.0.0/2"], gateways: ["10.114.0.5"] }));
    expect(replyRoutes(none)).toEqual([]);
    expect(desiredTable(none).rules).toEqual([]);
  });

  it("gives no reply protection to a narrower destination: the node's own traffic to it is the Route's", () => {
    // A corporate network, another quarter of the space (holding the API server), and a /2 inside 0.0.0.0/1.
    const corporate = route("corp", {
      destinations: ["11.0.0.0/8", "192.0.0.0/2", "0.0.0.0/2"],
      gateways: ["10.114.0.5"],
    });
    const state = upsert(readyState(MULTIPATH), corporate);
    expect(replyRoutes(state)).toEqual([]);
    expect(desiredTable(state).rules).toEqual([]);
    expect(pinned(state)).toEqual(["198.51.100.53/32", "203.0.113.100/32"]);
  });

  it("gives the IPv6 halves the IPv6 reply protection, and none without a default route of the family", () => {
    let state = readyState(MULTIPATH);
    state = reduce(
      state,
      ev(
        hostFacts({
          defaultGateways: [{ via: "fe80::1" as never, dev: "eth0", metric: 1024 }],
          addresses: [
            { ip: "10.0.0.10" as never, dev: "eth0", prefixLength: 24 },
            { ip: "2001:db8:1::10" as never, dev: "eth0", prefixLength: 64 },
            { ip: "10.114.0.10" as never, dev: "eth1", prefixLength: 20 },
            { ip: "fd00::10" as never, dev: "eth1", prefixLength: 64 },
          ],
        }),
      ),
    );
    state = upsert(
      state,
      route("vpn", {
        destinations: ["::/1", "8000::/1", "0.0.0.0/1", "128.0.0.0/1"],
        gateways: ["fd00::5", "10.114.0.5"],
      }),
    );
    expect(replyRoutes(state)).toEqual(["::/1 via fe80::1", "8000::/1 via fe80::1"]);
    expect(desiredTable(state).rules).toEqual([
      { family: 6, priority: 1349, table: 254, protocol: 201, suppressPrefixLength: 1 },
      { family: 6, priority: 1350, src: "2001:db8:1::10/128", table: 135, protocol: 201 },
    ]);
    expect(inlineVia(state, "::/1")).toEqual(["fd00::5@eth1"]);
    expect(inlineVia(state, "0.0.0.0/1")).toEqual(["10.114.0.5@eth1"]);
  });

  it("shares the reply rules with an override: each keeps what the other still needs", () => {
    const override = route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3"] });
    const both = upsert(readyState(MULTIPATH), override, vpn);
    expect(replyRoutes(both)).toEqual([
      "0.0.0.0/0 via 10.0.0.1",
      "0.0.0.0/1 via 10.0.0.1",
      "128.0.0.0/1 via 10.0.0.1",
    ]);
    expect(desiredTable(both).rules).toEqual(replyRules);
    const vpnOnly = reduce(both, ev({ type: "route/deleted", name: "egress" }));
    expect(replyRoutes(vpnOnly)).toEqual(["0.0.0.0/1 via 10.0.0.1", "128.0.0.0/1 via 10.0.0.1"]);
    expect(desiredTable(vpnOnly).rules).toEqual(replyRules);
    const overrideOnly = reduce(both, ev({ type: "route/deleted", name: "vpn" }));
    expect(replyRoutes(overrideOnly)).toEqual(["0.0.0.0/0 via 10.0.0.1"]);
    expect(desiredTable(overrideOnly).rules).toEqual(replyRules);
    // Two Routes naming the same half (one conflicted) share its reply route: it stays with either.
    const twin = route(
      "vpn-b",
      { destinations: ["0.0.0.0/1"], gateways: ["10.114.0.4"] },
      "2030-01-01T00:00:00Z",
    );
    const twins = upsert(readyState(MULTIPATH), vpn, twin);
    const leftTwin = reduce(twins, ev({ type: "route/deleted", name: "vpn" }));
    expect(replyRoutes(leftTwin)).toEqual(["0.0.0.0/1 via 10.0.0.1"]);
    expect(desiredTable(leftTwin).rules).toEqual(replyRules);
  });

  it("pins only what a destination strictly holds and a default route would carry", () => {
    let state = readyState(MULTIPATH);
    state = reduce(
      state,
      ev(
        hostFacts({
          apiServers: ["10.114.8.5" as never, "203.0.113.100" as never],
          dns: ["10.0.0.53" as never],
        }),
      ),
    );
    // 203.0.0.0/8 holds the API server's public address; 10.0.0.0/8 holds only addresses on
    // the node's own networks (connected routes keep them); 198.51.100.0/24 holds nothing.
    const wide = route("wide", {
      destinations: ["203.0.0.0/8", "10.0.0.0/8", "198.51.100.0/24"],
      gateways: ["10.114.0.5"],
    });
    state = upsert(state, wide);
    expect(pinned(state)).toEqual(["203.0.113.100/32"]);
    // A destination equal to a protected address is the operator's own route to it, not a capture.
    state = upsert(state, route("wide", { destinations: ["203.0.113.100/32"], gateways: ["10.114.0.5"] }));
    expect(pinned(state)).toEqual([]);
    expect(inlineVia(state, "203.0.113.100/32")).toEqual(["10.114.0.5@eth1"]);
  });

  it("pins nothing without a default route of the family to keep the addresses on", () => {
    let state = readyState(MULTIPATH);
    state = reduce(state, ev(hostFacts({ defaultGateways: [] })));
    state = upsert(state, vpn);
    expect(pinned(state)).toEqual([]);
    expect(routeTo(state, "128.0.0.0/1")).toBeDefined();
  });

  it("pins IPv6 protected addresses under an IPv6 destination, via the IPv6 default gateway", () => {
    let state = readyState(MULTIPATH);
    state = reduce(
      state,
      ev(
        hostFacts({
          defaultGateways: [
            { via: "10.0.0.1" as never, dev: "eth0", metric: 100 },
            { via: "fe80::1" as never, dev: "eth0", metric: 100 },
          ],
          addresses: [
            { ip: "10.0.0.10" as never, dev: "eth0", prefixLength: 24 },
            { ip: "fd00::10" as never, dev: "eth1", prefixLength: 64 },
            { ip: "fe80::10" as never, dev: "eth0", prefixLength: 64 },
          ],
          apiServers: ["2001:db8:5::10" as never],
          dns: ["2001:4860:4860::8888" as never],
        }),
      ),
    );
    state = upsert(state, route("vpn6", { destinations: ["2000::/3"], gateways: ["fd00::5"] }));
    expect(inlineVia(state, "2001:db8:5::10/128")).toEqual(["fe80::1@eth0"]);
    expect(inlineVia(state, "2001:4860:4860::8888/128")).toEqual(["fe80::1@eth0"]);
    expect(routeTo(state, "2000::/3")).toBeDefined();
  });

  it("a Route naming a protected address that another Route's destination holds loses it, named", () => {
    const pin = route(
      "pin-api",
      { destinations: ["203.0.113.100/32"], gateways: ["10.114.0.4"] },
      "2020-01-01T00:00:00Z",
    );
    const state = upsert(readyState(MULTIPATH), pin, vpn);
    expect(routeOutcome(state, "pin-api")?.destinations[0]).toMatchObject({
      state: "conflicted",
      reason:
        "reserved by Route vpn, whose destination 128.0.0.0/1 holds it: protected addresses keep the original gateway",
    });
  });

  /** A node whose labels, addresses and Routes are in, but not its host facts. */
  const beforeHostFacts = (): NodeState =>
    [
      ev({ type: "node/observed", node: NODE, labels: {} }),
      ev({ type: "route/resynced", routes: [] }),
      ev({
        type: "kernel/observed",
        node: NODE,
        snapshot: {
          routes: [],
          nexthops: [],
          rules: [],
          links: [],
          addresses: [
            { ip: ip("10.0.0.10"), prefixLength: 24, dev: "eth0" },
            { ip: ip("10.114.0.10"), prefixLength: 20, dev: "eth1" },
            { ip: ip("fd00::10"), prefixLength: 64, dev: "eth1" },
          ],
          complete: true,
        },
      }),
    ].reduce(reduce, initialNodeState(NODE, MULTIPATH));

  it("a destination that could hold a protected address waits for the host facts, named, never unpinned", () => {
    let state = upsert(
      beforeHostFacts(),
      vpn,
      route("wide", { destinations: ["203.0.0.0/8", "2000::/3"], gateways: ["10.114.0.5", "fd00::5"] }),
    );
    for (const name of ["vpn", "wide"])
      for (const destination of routeOutcome(state, name)?.destinations ?? [])
        expect(destination).toMatchObject({
          state: "pending",
          reason:
            "waiting for the node's host facts: until they name the protected addresses (API servers, resolvers, metadata, --keep-original), whether it holds one is not known",
        });
    expect(desiredTable(state).routes).toEqual([]);
    expect(plan(state)).toEqual([]);
    state = reduce(state, ev(hostFacts()));
    expect(pinned(state)).toEqual(["169.254.169.254/32", "198.51.100.53/32", "203.0.113.100/32"]);
    expect(routeTo(state, "128.0.0.0/1")).toBeDefined();
    expect(routeTo(state, "203.0.0.0/8")).toBeDefined();
    // No IPv6 default route in the facts: nothing to pin, so ::/3 goes in as it is.
    expect(routeTo(state, "2000::/3")).toBeDefined();
  });

  it("a host route, which holds no narrower address, goes in before the host facts", () => {
    const state = upsert(
      beforeHostFacts(),
      route("host", {
        destinations: ["203.0.113.7/32", "2001:db8::7/128"],
        gateways: ["10.114.0.5", "fd00::5"],
      }),
    );
    expect(inlineVia(state, "203.0.113.7/32")).toEqual(["10.114.0.5@eth1"]);
    expect(inlineVia(state, "2001:db8::7/128")).toEqual(["fd00::5@eth1"]);
  });

  it("unpins an address once no destination holds it any more", () => {
    let state = upsert(readyState(MULTIPATH), vpn);
    state = upsert(
      state,
      route("vpn", { destinations: ["0.0.0.0/1", "192.0.0.0/2"], gateways: ["10.114.0.5"] }),
    );
    // 192.0.0.0/2 holds the API server (203.x) and the resolver (198.x), not 169.254.169.254.
    expect(pinned(state)).toEqual(["198.51.100.53/32", "203.0.113.100/32"]);
    state = upsert(state, route("vpn", { destinations: ["0.0.0.0/1"], gateways: ["10.114.0.5"] }));
    expect(pinned(state)).toEqual([]);
  });
});
