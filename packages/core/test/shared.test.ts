/**
 * Route data shared across node states (shared-routes, shared-contribution,
 * shared-selection): sharing must be invisible, so nodes that differ in anything a
 * contribution reads get their own, and nodes that agree get the same object.
 */
import { describe, expect, it } from "vitest";
import { desiredTable } from "../src/desired.ts";
import type { EventBody } from "../src/events.ts";
import { hmGet } from "../src/hashmap.ts";
import { reduce } from "../src/reducer.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";
import { ev, hostFacts, ip, route } from "./fixtures.ts";

function node(name: string, bodies: readonly EventBody[]): NodeState {
  return bodies.reduce(
    (state, body) => reduce(state, ev({ ...body, ...("node" in body ? { node: name } : {}) } as EventBody)),
    initialNodeState(name, DEFAULT_SETTINGS),
  );
}

const pool = { nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["a"] }] }] };
const basic = route("basic", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"], nodeSelector: pool });
const onlyB = route("only-b", {
  destinations: ["10.10.0.0/16"],
  gateways: ["10.114.0.3"],
  nodeSelector: {
    nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: ["b"] }] }],
  },
});
const snapshot: EventBody = { type: "route/resynced", routes: [basic, onlyB] };

describe("sharing across node states", () => {
  it("gives nodes in the same context the same validations and contributions, by reference", () => {
    const labels = { pool: "a" };
    const a = node("a", [{ type: "node/observed", node: "a", labels }, hostFacts(), snapshot]);
    const c = node("c", [{ type: "node/observed", node: "c", labels: { pool: "a" } }, hostFacts(), snapshot]);
    expect(hmGet(a.routes.byName, "basic")).toBe(hmGet(c.routes.byName, "basic"));
    expect(hmGet(a.derived.contributions, "basic")).toBe(hmGet(c.derived.contributions, "basic"));
    expect(hmGet(a.derived.routes, "4|254|10.9.0.0/16|50")).toBeDefined();
  });

  it("keeps selection per node name even for one labels object (matchFields)", () => {
    const labels = { pool: "a" };
    const a = node("a", [{ type: "node/observed", node: "a", labels }, hostFacts(), snapshot]);
    const b = node("b", [{ type: "node/observed", node: "b", labels }, hostFacts(), snapshot]);
    expect(hmGet(a.derived.contributions, "only-b")).toBeUndefined();
    expect(hmGet(b.derived.contributions, "only-b")?.selected).toBe(true);
    expect(desiredTable(b).routes.map((r) => r.dst)).toEqual(["10.9.0.0/16", "10.10.0.0/16"]);
  });

  it("computes its own contribution for a node whose gateway is on another device", () => {
    const moved = hostFacts({
      addresses: [{ ip: ip("10.114.0.10"), dev: "eth7", prefixLength: 20 }],
    });
    const a = node("a", [{ type: "node/observed", node: "a", labels: { pool: "a" } }, hostFacts(), snapshot]);
    const d = node("d", [{ type: "node/observed", node: "d", labels: { pool: "a" } }, moved, snapshot]);
    const devOf = (state: NodeState) =>
      desiredTable(state).nexthops.map((n) => (n.kind === "gateway" ? n.dev : ""));
    expect(devOf(a)).toEqual(["eth1"]);
    expect(devOf(d)).toEqual(["eth7"]);
    // And back on node a after all: the shared answer was not overwritten for it.
    expect(
      devOf(node("a", [{ type: "node/observed", node: "a", labels: { pool: "a" } }, hostFacts(), snapshot])),
    ).toEqual(["eth1"]);
  });

  it("computes its own contribution for a node whose host facts are in, or not yet", () => {
    // 10.9.0.0/16 holds no protected address of these facts, but without them none can tell.
    const own = route("own", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"] });
    const addresses: EventBody = {
      type: "kernel/observed",
      node: "a",
      snapshot: {
        routes: [],
        nexthops: [],
        rules: [],
        links: [],
        addresses: [{ ip: ip("10.114.0.10"), prefixLength: 20, dev: "eth1" }],
        complete: true,
      },
    };
    const start = (name: string, facts: readonly EventBody[]) =>
      node(name, [
        { type: "node/observed", node: name, labels: {} },
        addresses,
        ...facts,
        { type: "route/resynced", routes: [own] },
      ]);
    const routed = (state: NodeState) => desiredTable(state).routes.map((r) => r.dst);
    expect(routed(start("k", [hostFacts()]))).toEqual(["10.9.0.0/16"]);
    expect(routed(start("w", []))).toEqual([]);
    expect(routed(start("k", [hostFacts()]))).toEqual(["10.9.0.0/16"]);
  });

  it("a label move gives the table of a node that saw only the final labels", () => {
    const moved = node("a", [
      { type: "node/observed", node: "a", labels: { pool: "a" } },
      hostFacts(),
      snapshot,
      { type: "node/observed", node: "a", labels: { pool: "b" } },
      { type: "node/observed", node: "a", labels: { pool: "a" } },
      { type: "node/observed", node: "a", labels: {} },
    ]);
    const fresh = node("a", [{ type: "node/observed", node: "a", labels: {} }, hostFacts(), snapshot]);
    expect(desiredTable(moved)).toEqual(desiredTable(fresh));
    expect(desiredTable(moved).routes).toEqual([]);
  });

  it("shares the Route index versions of nodes that apply the same Route events", () => {
    const start = (name: string, pool: string) =>
      node(name, [{ type: "node/observed", node: name, labels: { pool } }, hostFacts(), snapshot]);
    const changed = route("basic", {
      destinations: ["10.11.0.0/16"],
      gateways: ["10.114.0.3"],
      nodeSelector: pool,
    });
    const events: EventBody[] = [
      { type: "route/upserted", route: changed },
      { type: "route/deleted", name: "only-b" },
    ];
    const [a, b, other] = [start("a", "a"), start("b", "a"), start("o", "b")].map((state) =>
      events.reduce((s, body) => reduce(s, ev(body)), state),
    ) as [NodeState, NodeState, NodeState];
    expect(a.routes.byName).toBe(b.routes.byName);
    expect(other.routes.byName).toBe(a.routes.byName);
    expect(hmGet(a.routes.byName, "only-b")).toBeUndefined();
    expect(desiredTable(a).routes.map((r) => r.dst)).toEqual(["10.11.0.0/16"]);
  });

  it("leaves the desired table of a node a Route does not select untouched, and holds the Route for a later move", () => {
    const elsewhere = node("o", [
      { type: "node/observed", node: "o", labels: { pool: "b" } },
      hostFacts(),
      snapshot,
    ]);
    const extra = route("extra", {
      destinations: ["10.12.0.0/16"],
      gateways: ["10.114.0.3"],
      nodeSelector: pool,
    });
    const after = reduce(elsewhere, ev({ type: "route/upserted", route: extra }));
    expect(after.derived).toBe(elsewhere.derived);
    expect(hmGet(after.routes.byName, "extra")).toBeDefined();
    const moved = reduce(after, ev({ type: "node/observed", node: "o", labels: { pool: "a" } }));
    expect(desiredTable(moved).routes.map((r) => r.dst)).toEqual(["10.9.0.0/16", "10.12.0.0/16"]);
    expect(reduce(after, ev({ type: "route/deleted", name: "extra" })).derived).toBe(elsewhere.derived);
  });
});
