/**
 * Another program's replace at a key where kroute's route shares the key with theirs.
 * Linux replaces the key's first route (IPv4), or its first of the replacing route's
 * kind (IPv6), whoever owns it; checked with `ip route prepend/append/replace` on 6.18.
 * kroute's view must lose its route only when the replace took it.
 */
import { describe, expect, it } from "vitest";
import { desiredTable } from "../src/desired.ts";
import type { KernelChange, KernelRoute, Op } from "../src/kernel.ts";
import { ownedObjects } from "../src/owned.ts";
import { plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import type { NodeState } from "../src/state.ts";
import { ev, MULTIPATH, NODE, readyState, route } from "./fixtures.ts";

const OTHER = 4;

function converge(state: NodeState): NodeState {
  const ops = plan(state);
  return reduce(
    state,
    ev({ type: "dataplane/applied", node: NODE, results: ops.map((op) => ({ op, result: { ok: true } })) }),
  );
}

const changed = (state: NodeState, change: KernelChange): NodeState =>
  reduce(state, ev({ type: "kernel/changed", node: NODE, change }));

const theirsNew = (route: KernelRoute, flags: { replaced?: true; appended?: true } = {}): KernelChange => ({
  kind: "route",
  action: "new",
  route,
  ...flags,
});

/** kroute holding one route of `family`, and that route. */
function holding(family: 4 | 6, settings = MULTIPATH): { state: NodeState; ours: KernelRoute } {
  const spec =
    family === 4
      ? route("r", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"] })
      : route("r", { destinations: ["2001:db8:9::/64"], gateways: ["fd00::3"] });
  const state = converge(reduce(readyState(settings), ev({ type: "route/upserted", route: spec })));
  const ours = desiredTable(state).routes.find((r) => r.family === family);
  if (ours === undefined) throw new Error("no route");
  return { state, ours };
}

const through = (ours: KernelRoute, dev: string): KernelRoute => ({
  ...ours,
  protocol: OTHER,
  scope: 253,
  target: { kind: "device", dev },
});

const ADD = (ours: KernelRoute): Op[] => [{ object: "route", action: "add", to: ours }];

describe("another program's replace at a key kroute shares", () => {
  it("IPv4: theirs prepended before ours is what their replace takes; ours stays, nothing to redo", () => {
    const { state: start, ours } = holding(4);
    let state = changed(start, theirsNew(through(ours, "eth9")));
    state = changed(state, theirsNew(through(ours, "eth8"), { replaced: true }));
    expect(ownedObjects(state.kernel).routes).toContainEqual(ours);
    expect(plan(state)).toEqual([]);
  });

  it("IPv4: theirs appended after ours leaves ours first, and their replace takes ours", () => {
    const { state: start, ours } = holding(4);
    let state = changed(start, theirsNew(through(ours, "eth9"), { appended: true }));
    state = changed(state, theirsNew(through(ours, "eth8"), { replaced: true }));
    expect(ownedObjects(state.kernel).routes).not.toContainEqual(ours);
    expect(plan(state)).toEqual(ADD(ours));
  });

  it("IPv4: once their leading route is deleted, ours leads again and their next replace takes it", () => {
    const { state: start, ours } = holding(4);
    let state = changed(start, theirsNew(through(ours, "eth9")));
    state = changed(state, theirsNew(through(ours, "eth8"), { replaced: true }));
    state = changed(state, { kind: "route", action: "del", route: through(ours, "eth8") });
    expect(plan(state)).toEqual([]);
    state = changed(state, theirsNew(through(ours, "eth7"), { replaced: true }));
    expect(plan(state)).toEqual(ADD(ours));
  });

  it("IPv4: two prepended lead in turn; one deleted, the other still leads", () => {
    const { state: start, ours } = holding(4);
    let state = changed(start, theirsNew(through(ours, "eth9")));
    state = changed(state, theirsNew(through(ours, "eth8")));
    state = changed(state, { kind: "route", action: "del", route: through(ours, "eth8") });
    state = changed(state, theirsNew(through(ours, "eth7"), { replaced: true }));
    expect(plan(state)).toEqual([]);
  });

  it("IPv4: who leads is read from a resync's dump order", () => {
    const { state: start, ours } = holding(4);
    const owned = ownedObjects(start.kernel);
    const snapshot = (routes: KernelRoute[]) => ({
      routes,
      nexthops: owned.nexthops,
      rules: owned.rules,
      links: start.kernel.links,
      addresses: start.kernel.addresses,
      complete: true,
    });
    const others = owned.routes.filter((r) => r !== ours);
    const led = reduce(
      start,
      ev({
        type: "kernel/observed",
        node: NODE,
        snapshot: snapshot([...others, through(ours, "eth9"), ours]),
      }),
    );
    expect(plan(changed(led, theirsNew(through(ours, "eth8"), { replaced: true })))).toEqual([]);
    const leading = reduce(
      start,
      ev({
        type: "kernel/observed",
        node: NODE,
        snapshot: snapshot([...others, ours, through(ours, "eth9")]),
      }),
    );
    expect(plan(changed(leading, theirsNew(through(ours, "eth8"), { replaced: true })))).toEqual(ADD(ours));
  });

  it("IPv4: their leading route flushed with its device (silently) leaves ours first again", () => {
    const { state: start, ours } = holding(4);
    let state = changed(start, theirsNew(through(ours, "eth9")));
    state = changed(state, {
      kind: "link",
      action: "new",
      link: { index: 99, name: "eth9", up: false, carrier: false },
    });
    state = changed(state, theirsNew(through(ours, "eth8"), { replaced: true }));
    expect(plan(state)).toEqual(ADD(ours));
  });

  it("IPv4: theirs through a nexthop object after ours, re-announced (flagged) as its object is replaced, takes nothing", () => {
    const { state: start, ours } = holding(4);
    const viaObject: KernelRoute = { ...ours, protocol: OTHER, target: { kind: "nexthop-object", id: 70 } };
    let state = changed(start, theirsNew(viaObject, { appended: true }));
    // nexthop_compat_mode=1 (Linux's default): `ip nexthop replace id 70 ...` re-announces it, 0x100.
    state = changed(state, theirsNew(viaObject, { replaced: true }));
    expect(ownedObjects(state.kernel).routes).toContainEqual(ours);
    expect(plan(state)).toEqual([]);
  });

  it("IPv6: their device route after our inline route is what their device replace takes", () => {
    const { state: start, ours } = holding(6);
    let state = changed(start, theirsNew(through(ours, "eth9"), { appended: true }));
    state = changed(state, theirsNew(through(ours, "eth8"), { replaced: true }));
    expect(ownedObjects(state.kernel).routes).toContainEqual(ours);
    expect(plan(state)).toEqual([]);
  });

  it("IPv6: a replace of another kind than anything after ours takes ours (the first)", () => {
    const { state: start, ours } = holding(6);
    let state = changed(start, theirsNew(through(ours, "eth9"), { appended: true }));
    // Through a gateway inline, as ours: the first such route is ours.
    const viaGateway: KernelRoute = {
      ...ours,
      protocol: OTHER,
      target: { kind: "gateways", nexthops: [{ gateway: "fd00::7" as never, dev: "eth1", weight: 1 }] },
    };
    state = changed(state, theirsNew(viaGateway, { replaced: true }));
    expect(plan(state)).toEqual(ADD(ours));
  });
});
