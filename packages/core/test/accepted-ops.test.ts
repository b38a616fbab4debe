import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { startWork, touch, touchMany } from "../src/derive.ts";
import { hmKeys } from "../src/hashmap.ts";
import type { IpAddr, Prefix } from "../src/ip.ts";
import type { KernelNexthop, KernelRoute, KernelSnapshot, Op } from "../src/kernel.ts";
import { applyAccepted, applyOp, ownedFromSnapshot } from "../src/owned.ts";
import { plan } from "../src/plan.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import { ev, readyState, reduceAll, route } from "./fixtures.ts";

const PROTOCOL = DEFAULT_SETTINGS.protocol;
const idArb = fc.integer({ min: 0, max: 7 }).map((i) => DEFAULT_SETTINGS.nexthopIdBase + i);

const nexthopArb: fc.Arbitrary<KernelNexthop> = fc.oneof(
  fc.record({
    kind: fc.constant("gateway" as const),
    id: idArb,
    family: fc.constant(4 as const),
    protocol: fc.constant(PROTOCOL),
    gateway: fc.constantFrom("10.114.0.3", "10.114.0.4").map((g) => g as IpAddr),
    dev: fc.constant("eth1"),
  }),
  fc.record({
    kind: fc.constant("group" as const),
    id: idArb,
    protocol: fc.constant(PROTOCOL),
    members: fc
      .uniqueArray(idArb, { minLength: 1, maxLength: 3 })
      .map((ids) => ids.sort((a, b) => a - b).map((id) => ({ id, weight: 1 }))),
    groupType: fc.constant("mpath" as const),
  }),
  // Another program's nexthop at an id of kroute's range: it holds the id.
  fc.record({
    kind: fc.constant("opaque" as const),
    id: idArb,
    protocol: fc.constant(16),
    type: fc.constant("blackhole" as const),
  }),
);

const routeArb: fc.Arbitrary<KernelRoute> = fc.record({
  family: fc.constant(4 as const),
  table: fc.constantFrom(254, 100),
  dst: fc.constantFrom("10.9.0.0/16", "10.10.0.0/16", "0.0.0.0/0", "10.77.1.0/24").map((p) => p as Prefix),
  metric: fc.constant(50),
  protocol: fc.constant(PROTOCOL),
  scope: fc.constant(0),
  target: fc.oneof(
    fc.record({ kind: fc.constant("nexthop-object" as const), id: idArb }),
    fc.record({ kind: fc.constant("device" as const), dev: fc.constant("eth1") }),
  ),
});

const snapshotArb: fc.Arbitrary<KernelSnapshot> = fc
  .record({
    routes: fc.uniqueArray(routeArb, { maxLength: 6, selector: (r) => `${r.table}|${r.dst}` }),
    nexthops: fc.uniqueArray(nexthopArb, { maxLength: 6, selector: (n) => n.id }),
  })
  .map(({ routes, nexthops }) => ({
    routes,
    nexthops,
    rules: [],
    links: [],
    addresses: [{ ip: "10.114.0.10" as IpAddr, prefixLength: 20, dev: "eth1" }],
    complete: true,
  }));

/** Ops as a plan orders them: runs of nexthop deletes among route and nexthop writes. */
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: nexthopArb.map((from): Op => ({ object: "nexthop", action: "delete", from })) },
  { weight: 1, arbitrary: nexthopArb.map((to): Op => ({ object: "nexthop", action: "add", to })) },
  { weight: 1, arbitrary: routeArb.map((to): Op => ({ object: "route", action: "add", to })) },
  { weight: 1, arbitrary: routeArb.map((from): Op => ({ object: "route", action: "delete", from })) },
);

describe("accepted ops fed back at once", () => {
  it("leave the owned state and the keys to check again as the same ops applied one by one", () => {
    fc.assert(
      fc.property(snapshotArb, fc.array(opArb, { maxLength: 12 }), (snapshot, ops) => {
        const kernel = ownedFromSnapshot(snapshot, DEFAULT_SETTINGS);
        const touchedOneByOne: string[] = [];
        const oneByOne = ops.reduce((k, op) => applyOp(k, op, touchedOneByOne), kernel);
        const touchedAtOnce: string[] = [];
        const atOnce = applyAccepted(kernel, ops, touchedAtOnce);
        expect(atOnce).toEqual(oneByOne);
        expect(new Set(touchedAtOnce)).toEqual(new Set(touchedOneByOne));
      }),
      { numRuns: 500 },
    );
  });
});

const DESTINATIONS = ["10.9.0.0/16", "10.10.0.0/16", "10.77.1.0/24", "10.77.2.0/24", "fd00:9::/64"];
const GATEWAYS = ["10.114.0.3", "10.114.0.4", "fd00::3"];

describe("objects checked again at once", () => {
  it("leave the set of objects that differ as they do checked one by one", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            destinations: fc.uniqueArray(fc.constantFrom(...DESTINATIONS), { minLength: 1, maxLength: 3 }),
            gateways: fc.uniqueArray(fc.constantFrom(...GATEWAYS), { minLength: 1, maxLength: 2 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.array(fc.constantFrom("r|4|254|10.66.0.0/16|50", "n|1795162199", "u|nonsense"), { maxLength: 3 }),
        (routes, applies, strangers) => {
          const state = reduceAll(
            readyState(),
            routes.map((spec, i) => ev({ type: "route/upserted", route: route(`r${i}`, spec) })),
          );
          // Some of the plan taken by the kernel: those objects agree now, the others still differ.
          const taken = plan(state).filter((_op, i) => applies[i % applies.length]);
          const touched: string[] = [];
          const kernel = applyAccepted(state.kernel, taken, touched);
          const keys = [...touched, ...strangers, ...touched.slice(0, 2)];
          const oneByOne = startWork(state.derived, state.settings, state, kernel);
          for (const key of keys) touch(oneByOne, key);
          const atOnce = startWork(state.derived, state.settings, state, kernel);
          touchMany(atOnce, keys);
          expect(hmKeys(atOnce.d.mismatch).sort()).toEqual(hmKeys(oneByOne.d.mismatch).sort());
          expect(atOnce.d.mismatch.root).toEqual(oneByOne.d.mismatch.root);
        },
      ),
    );
  });
});
