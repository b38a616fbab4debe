/**
 * Another program's route through one of kroute's nexthop objects (`ip route add X nhid
 * N proto static`): Linux flushes it when the nexthop is deleted, and a group goes with
 * its last member, so the plan keeps what such a route uses until the route goes.
 */
import { describe, expect, it } from "vitest";
import { desiredTable } from "../src/desired.ts";
import { diff } from "../src/diff.ts";
import type { KernelChange, KernelNexthop, KernelRoute, KernelSnapshot, Op } from "../src/kernel.ts";
import { ownedObjects } from "../src/owned.ts";
import { canPrune, plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import { DEFAULT_SETTINGS, type EngineSettings } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";
import { emptySnapshot, ev, hostFacts, MULTIPATH, NODE, pfx, reduceAll, route } from "./fixtures.ts";

const basic = route("basic", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3", "10.114.0.4"] });
/** `proto static`, as `ip route add ... nhid N proto static` writes it. */
const STATIC = 4;

function applied(state: NodeState, ops: readonly Op[]): NodeState {
  return reduce(
    state,
    ev({ type: "dataplane/applied", node: NODE, results: ops.map((op) => ({ op, result: { ok: true } })) }),
  );
}

const converge = (state: NodeState): NodeState => applied(state, plan(state));
const changed = (state: NodeState, change: KernelChange): NodeState =>
  reduce(state, ev({ type: "kernel/changed", node: NODE, change }));

function started(snapshot: KernelSnapshot, routes = [basic], settings: EngineSettings = DEFAULT_SETTINGS) {
  return reduceAll(initialNodeState(NODE, settings), [
    ev({ type: "node/observed", node: NODE, labels: {} }),
    ev(hostFacts()),
    ev({ type: "route/resynced", routes }),
    ev({ type: "kernel/observed", node: NODE, snapshot }),
  ]);
}

const withBasic = converge(started(emptySnapshot));
const ownNexthops = ownedObjects(withBasic.kernel).nexthops;
const group = ownNexthops.find((n) => n.kind === "group") as KernelNexthop & { kind: "group" };
const leaves = ownNexthops.filter((n) => n.kind === "gateway");
const [leaf] = leaves as [KernelNexthop];

/** Another program's route through kroute's nexthop `id`. */
function theirs(id: number, dst = "192.0.2.0/24"): KernelRoute {
  return {
    family: 4,
    table: 254,
    dst: pfx(dst),
    metric: 0,
    protocol: STATIC,
    scope: 0,
    target: { kind: "nexthop-object", id },
  };
}

const added = (route: KernelRoute): KernelChange => ({ kind: "route", action: "new", route });
const deleted = (route: KernelRoute): KernelChange => ({ kind: "route", action: "del", route });
const routeDeleted = (state: NodeState) =>
  reduce(state, ev({ type: "route/deleted", name: basic.metadata.name }));

const deletedIds = (ops: readonly Op[]) =>
  ops.flatMap((op) => (op.object === "nexthop" && op.action === "delete" ? [op.from.id] : [])).sort();
const ids = (nexthops: readonly KernelNexthop[]) => nexthops.map((n) => n.id).sort();

/** The plan agrees with the from-scratch diff, as properties.test.ts checks at random. */
function planned(state: NodeState): Op[] {
  const ops = plan(state);
  expect(ops).toEqual(diff(desiredTable(state), state.kernel, { prune: canPrune(state) }));
  return ops;
}

describe("kroute's nexthops that others' routes use", () => {
  it("fixture: a Route of two gateways is a group of two leaves", () => {
    expect(group.members.map((m) => m.id).sort()).toEqual(ids(leaves));
    expect(leaves).toHaveLength(2);
  });

  it("keeps a group another route uses, and its members, until that route is deleted", () => {
    const used = changed(withBasic, added(theirs(group.id)));
    const gone = routeDeleted(used);
    const ops = planned(gone);
    expect(ops.map((op) => `${op.object} ${op.action}`)).toEqual(["route delete"]);
    const left = applied(gone, ops);
    expect(ids(ownedObjects(left.kernel).nexthops)).toEqual(ids(ownNexthops));
    expect(planned(left)).toEqual([]);
    // Their route deleted: the next plan takes out the group and its leaves.
    const freed = changed(left, deleted(theirs(group.id)));
    expect(deletedIds(planned(freed))).toEqual(ids(ownNexthops));
    expect(ownedObjects(converge(freed).kernel).nexthops).toEqual([]);
  });

  it("keeps only the leaf another route uses", () => {
    const gone = routeDeleted(changed(withBasic, added(theirs(leaf.id))));
    expect(deletedIds(planned(gone))).toEqual(ids(ownNexthops.filter((n) => n.id !== leaf.id)));
    const left = converge(gone);
    expect(ids(ownedObjects(left.kernel).nexthops)).toEqual([leaf.id]);
    expect(deletedIds(planned(changed(left, deleted(theirs(leaf.id)))))).toEqual([leaf.id]);
  });

  it("frees the nexthop once a later dump no longer shows the route", () => {
    const left = converge(routeDeleted(changed(withBasic, added(theirs(group.id)))));
    const { routes, nexthops, rules } = ownedObjects(left.kernel);
    const dumped = reduce(
      left,
      ev({ type: "kernel/observed", node: NODE, snapshot: { ...emptySnapshot, routes, nexthops, rules } }),
    );
    expect(deletedIds(planned(dumped))).toEqual(ids(ownNexthops));
  });

  it("keeps the nexthop when a route at their route's key is replaced, until a dump says which went", () => {
    // Linux replaces the key's first route, and that may be one not through kroute's
    // nexthops (192.0.2.0/24 via 10.1.0.3 before theirs, appended): not kept, so which
    // route the replace took is not known. Deleting the group on a guess would flush theirs.
    const left = converge(routeDeleted(changed(withBasic, added(theirs(group.id)))));
    const elsewhere: KernelRoute = { ...theirs(group.id), target: { kind: "device", dev: "eth0" } };
    const moved = changed(left, { kind: "route", action: "new", route: elsewhere, replaced: true });
    expect(planned(moved)).toEqual([]);
    const { routes, nexthops, rules } = ownedObjects(moved.kernel);
    const dump = (others: KernelRoute[]) =>
      reduce(
        moved,
        ev({
          type: "kernel/observed",
          node: NODE,
          snapshot: { ...emptySnapshot, routes: [...routes, ...others], nexthops, rules },
        }),
      );
    // The dump still shows theirs: the replace took another route.
    expect(planned(dump([theirs(group.id)]))).toEqual([]);
    // It does not: theirs was the one replaced.
    expect(deletedIds(planned(dump([])))).toEqual(ids(ownNexthops));
  });

  it("keeps the nexthop while a second route of theirs still uses it", () => {
    const two = changed(
      changed(withBasic, added(theirs(group.id))),
      added(theirs(group.id, "198.51.100.0/24")),
    );
    const left = converge(routeDeleted(two));
    expect(ids(ownedObjects(left.kernel).nexthops)).toEqual(ids(ownNexthops));
    const one = changed(left, deleted(theirs(group.id)));
    expect(planned(one)).toEqual([]);
    expect(deletedIds(planned(changed(one, deleted(theirs(group.id, "198.51.100.0/24")))))).toEqual(
      ids(ownNexthops),
    );
  });

  it("a restart adopting kroute's objects keeps those a route of theirs uses, and deletes the rest", () => {
    const { routes, nexthops, rules } = ownedObjects(withBasic.kernel);
    const snapshot = { ...emptySnapshot, routes: [...routes, theirs(group.id)], nexthops, rules };
    // The Route still there: adopted as it is, nothing to do.
    expect(planned(started(snapshot))).toEqual([]);
    // The Route deleted while the agent was down: its route goes, the nexthops stay.
    const ops = planned(started(snapshot, []));
    expect(ops.map((op) => `${op.object} ${op.action}`)).toEqual(["route delete"]);
    // --nexthop-mode multipath after the restart: the route is written inline, the group kept.
    const multipath = planned(started(snapshot, [basic], MULTIPATH));
    expect(multipath.map((op) => `${op.object} ${op.action}`)).toEqual(["route replace"]);
  });

  it("forgets their route when Linux flushes it with a nexthop deleted by someone else", () => {
    const left = converge(routeDeleted(changed(withBasic, added(theirs(leaf.id)))));
    const flushed = changed(left, { kind: "nexthop", action: "del", nexthop: leaf });
    expect(flushed.kernel.nexthopUsers.countById.size).toBe(0);
    expect(planned(flushed)).toEqual([]);
  });
});

describe("a route of theirs both dumped and notified", () => {
  it("counts it once: the start-up dump and the changes made during it both show it", () => {
    const { routes, nexthops, rules } = ownedObjects(withBasic.kernel);
    const snapshot = { ...emptySnapshot, routes: [...routes, theirs(group.id)], nexthops, rules };
    // Added while the dump ran: in the dump, and its notification replayed after it.
    const twice = changed(routeDeleted(started(snapshot)), added(theirs(group.id)));
    const left = converge(twice);
    expect(deletedIds(planned(changed(left, deleted(theirs(group.id)))))).toEqual(ids(ownNexthops));
  });
});
