import { describe, expect, it } from "vitest";
import type { EngineEvent } from "../src/events.ts";
import { hmKeys } from "../src/hashmap.ts";
import type { KernelChange, KernelLink, KernelNexthop, Op } from "../src/kernel.ts";
import { forgetOthersFlushedWith, othersFromNexthops } from "../src/others-nexthops.ts";
import { ownedObjects } from "../src/owned.ts";
import { plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";
import { emptySnapshot, ev, hostFacts, ip, NODE, reduceAll, route } from "./fixtures.ts";

const basic = route("basic", {
  destinations: ["10.9.0.0/16"],
  gateways: ["10.114.0.3", "10.114.0.4"],
});
const THEIRS = 99;
const ETH0: KernelLink = { index: 2, name: "eth0", up: true, carrier: true };

function converge(state: NodeState): NodeState {
  const ops = plan(state);
  if (ops.length === 0) return state;
  return reduce(
    state,
    ev({ type: "dataplane/applied", node: NODE, results: ops.map((op) => ({ op, result: { ok: true } })) }),
  );
}

/** kroute converged with `theirs` in its range from the first dump. */
function convergedBeside(theirs: readonly KernelNexthop[]): NodeState {
  const events: EngineEvent[] = [
    ev({ type: "node/observed", node: NODE, labels: {} }),
    ev(hostFacts()),
    ev({ type: "route/resynced", routes: [] }),
    ev({
      type: "kernel/observed",
      node: NODE,
      snapshot: { ...emptySnapshot, links: [ETH0], nexthops: theirs },
    }),
    ev({ type: "route/upserted", route: basic }),
  ];
  return converge(reduceAll(initialNodeState(NODE, DEFAULT_SETTINGS), events));
}

const changed = (state: NodeState, change: KernelChange): NodeState =>
  reduce(state, ev({ type: "kernel/changed", node: NODE, change }));

// The ids kroute's objects take with nothing else in the range: the others below hold them.
const home = ownedObjects(convergedBeside([]).kernel)
  .nexthops.map((n) => n.id)
  .sort((a, b) => a - b);
const [h0 = 0, h1 = 0, h2 = 0] = home;
const OUTSIDE = DEFAULT_SETTINGS.nexthopIdBase - 1;

const device: KernelNexthop = { kind: "opaque", id: h0, protocol: THEIRS, type: "device", dev: "eth0" };
const gateway: KernelNexthop = {
  kind: "gateway",
  id: h1,
  family: 4,
  protocol: THEIRS,
  gateway: ip("10.0.0.1"),
  dev: "eth0",
};
/** Goes with its members: both on eth0. */
const group: KernelNexthop = {
  kind: "group",
  id: h2,
  protocol: THEIRS,
  members: [
    { id: h0, weight: 1 },
    { id: h1, weight: 1 },
  ],
  groupType: "mpath",
};
const fdb: KernelNexthop = { kind: "opaque", id: h2 + 1, protocol: THEIRS, type: "fdb" };
const fdbGroup: KernelNexthop = {
  kind: "group",
  id: h2 + 2,
  protocol: THEIRS,
  members: [{ id: h2 + 1, weight: 1 }],
  groupType: "mpath",
  fdb: true,
};
/** Holds a member kroute never sees (outside its range): it may not have gone. */
const partlySeen: KernelNexthop = {
  kind: "group",
  id: h2 + 3,
  protocol: THEIRS,
  members: [
    { id: OUTSIDE, weight: 1 },
    { id: h0, weight: 1 },
  ],
  groupType: "mpath",
};
const theirs = [device, gateway, group, fdb, fdbGroup, partlySeen];

const linkEvents: [string, KernelChange][] = [
  ["loses carrier", { kind: "link", action: "new", link: { ...ETH0, carrier: false } }],
  ["goes down", { kind: "link", action: "new", link: { ...ETH0, up: false, carrier: false } }],
  ["is deleted", { kind: "link", action: "del", link: ETH0 }],
];

describe("others' nexthops flushed with their link", () => {
  it("kroute lays its objects out past the ids the others hold", () => {
    const state = convergedBeside(theirs);
    const ids = ownedObjects(state.kernel).nexthops.map((n) => n.id);
    expect(ids.some((id) => theirs.some((n) => n.id === id))).toBe(false);
    expect(hmKeys(state.kernel.othersIds).map(Number).sort()).toEqual(theirs.map((n) => n.id).sort());
  });

  it.each(linkEvents)(
    "when the link %s, Linux deletes theirs there unannounced: kroute frees those ids as if told, and keeps the rest",
    (_, change) => {
      const before = convergedBeside(theirs);
      const flushed = changed(before, change);
      expect(hmKeys(flushed.kernel.othersIds).map(Number).sort()).toEqual(
        [fdb.id, fdbGroup.id, partlySeen.id].sort(),
      );
      // The same moves home as when each removal is announced.
      let told = changed(before, change);
      for (const nexthop of [device, gateway, group])
        told = changed(told, { kind: "nexthop", action: "del", nexthop });
      const moves: Op[] = plan(flushed);
      expect(moves.length).toBeGreaterThan(0);
      expect(moves).toEqual(plan(told));
    },
  );

  it("a link that only comes up (carrier back) frees nothing", () => {
    const before = convergedBeside(theirs);
    const after = changed(before, { kind: "link", action: "new", link: { ...ETH0, index: 9, name: "eth9" } });
    expect(after.kernel.othersIds).toBe(before.kernel.othersIds);
    expect(plan(after)).toEqual([]);
  });

  it("a group of theirs that held kroute's flushed nexthops only goes with them", () => {
    const held: KernelNexthop = { ...group, members: [{ id: 5, weight: 1 }] };
    const others = othersFromNexthops([held, fdb]);
    const after = forgetOthersFlushedWith(others, "eth1", new Set([5]));
    expect(hmKeys(after.othersIds)).toEqual([String(fdb.id)]);
    expect(forgetOthersFlushedWith(others, "eth1", new Set())).toBe(others);
  });
});
