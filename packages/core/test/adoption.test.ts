/**
 * Handing kroute's objects over from an old protocol (settings.adoptProtocol): the agent
 * that tagged them 201 is replaced by one that tags 202 and adopts 201. The plan, op by
 * op, never leaves a destination without a resolvable route, never names a third
 * protocol's object nor writes 201 again, deletes nothing before every source synced,
 * and converges to the table a fresh 202 agent would write, with no 201 object left.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalNexthop, canonicalRoute, canonicalRule } from "../src/canonical.ts";
import { desiredTable } from "../src/desired.ts";
import type { EngineEvent, EventBody } from "../src/events.ts";
import { hmGet, hmKeys } from "../src/hashmap.ts";
import type { IpAddr, Prefix } from "../src/ip.ts";
import {
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  type Op,
  routeKey,
  ruleKey,
} from "../src/kernel.ts";
import { applyOp, ownedObjects } from "../src/owned.ts";
import { canPrune, plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import type { RouteObject } from "../src/route.ts";
import { DEFAULT_SETTINGS, type EngineSettings } from "../src/settings.ts";
import { initialNodeState, type NodeState, type OwnedKernelState } from "../src/state.ts";
import { emptySnapshot, hostFacts, NODE, route } from "./fixtures.ts";

const OLD = 201;
const NEW = 202;
const THIRD = 186;
const BASE = DEFAULT_SETTINGS.nexthopIdBase;
/** Ids of the small range some runs use; the third program's nexthops are among them. */
const RANGE = 24;

let seq = 0;
function feed(state: NodeState, body: EventBody): NodeState {
  seq += 1;
  return reduce(state, {
    v: 1,
    seq,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, 0, seq)).toISOString(),
    ...body,
  } as EngineEvent);
}

function applied(state: NodeState, ops: readonly Op[]): NodeState {
  return feed(state, {
    type: "dataplane/applied",
    node: NODE,
    results: ops.map((op) => ({ op, result: { ok: true as const } })),
  });
}

const sources = (routes: readonly RouteObject[]): EventBody[] => [
  { type: "node/observed", node: NODE, labels: { pool: "a" } },
  // The override's protected routes and reply rule come with a default-route Route.
  hostFacts(),
  { type: "route/resynced", routes },
];

/** Runs plans until none is left (each op accepted), as the old agent did; the ops of every round. */
function converge(start: NodeState, rounds = 12): { state: NodeState; batches: Op[][] } {
  let state = start;
  const batches: Op[][] = [];
  for (let round = 0; round < rounds; round++) {
    const ops = plan(state);
    if (ops.length === 0) return { state, batches };
    batches.push(ops);
    state = applied(state, ops);
  }
  throw new Error(`no convergence in ${rounds} rounds; still planned: ${JSON.stringify(plan(state))}`);
}

/** The kernel the new agent finds: the old agent's objects and a third program's. */
function kernelAfterOldAgent(old: NodeState, third: KernelSnapshot): KernelSnapshot {
  const owned = ownedObjects(old.kernel);
  return {
    ...emptySnapshot,
    routes: [...owned.routes, ...third.routes],
    nexthops: [...owned.nexthops, ...third.nexthops],
    rules: [...owned.rules, ...third.rules],
  };
}

/** Where a route leads, in the owned model: nowhere when its nexthop object (or every member of its group) is gone. */
function resolves(route: KernelRoute, kernel: OwnedKernelState): boolean {
  if (route.target.kind !== "nexthop-object") return true;
  const nexthop = hmGet(kernel.nexthops, String(route.target.id));
  if (nexthop === undefined) return false;
  return nexthop.kind !== "group" || nexthop.members.some((m) => hmGet(kernel.nexthops, String(m.id)));
}

function routedKeys(kernel: OwnedKernelState): string[] {
  return [...hmKeys(kernel.routes)].filter((key) => {
    const route = hmGet(kernel.routes, key);
    return route !== undefined && resolves(route, kernel);
  });
}

/** The old agent's objects no op replaced or deleted: still in the kernel under the old tag. */
function leftBehind(kernel: KernelSnapshot, ops: readonly Op[]): string[] {
  const gone = new Set(ops.flatMap((op) => (op.action === "add" ? [] : [objectKey(op.from)])));
  return [...kernel.routes, ...kernel.nexthops, ...kernel.rules]
    .filter((o) => o.protocol === OLD)
    .map(objectKey)
    .filter((key) => !gone.has(key));
}

function objectKey(object: KernelRoute | KernelNexthop | KernelRule): string {
  if ("target" in object) return `route ${routeKey(object)}`;
  if ("priority" in object) return `rule ${ruleKey(object)}`;
  return `nexthop ${object.id}`;
}

const subjects = (op: Op): (KernelRoute | KernelNexthop | KernelRule)[] =>
  op.action === "add" ? [op.to] : op.action === "delete" ? [op.from] : [op.from, op.to];

/** The handover from OLD to NEW: every batch and what each op left routed. */
function handover(settings: EngineSettings, routes: readonly RouteObject[], third: KernelSnapshot) {
  const oldSettings = { ...settings, protocol: OLD };
  const oldStart = [
    ...sources(routes),
    { type: "kernel/observed", node: NODE, snapshot: third } as EventBody,
  ];
  const old = converge(oldStart.reduce(feed, initialNodeState(NODE, oldSettings))).state;
  const kernel = kernelAfterOldAgent(old, third);

  const newSettings: EngineSettings = { ...settings, protocol: NEW, adoptProtocol: OLD };
  // As the agent starts: its settings, then the kernel dump, before any other source.
  let state = feed(initialNodeState(NODE, newSettings), {
    type: "agent/configured",
    node: NODE,
    settings: newSettings,
  });
  state = feed(state, { type: "kernel/observed", node: NODE, snapshot: kernel });
  const beforeSync = plan(state);
  state = sources(routes).reduce(feed, state);
  const routedAtStart = routedKeys(state.kernel);
  const unrouted: string[] = [];
  let model = state.kernel;
  const { state: final, batches } = converge(state);
  for (const op of batches.flat()) {
    model = applyOp(model, op);
    const left = new Set(routedKeys(model));
    for (const key of routedAtStart)
      if (!left.has(key))
        unrouted.push(`${key} after ${op.action} ${op.object} ${JSON.stringify(subjects(op).at(-1))}`);
  }
  return { old, kernel, beforeSync, batches, final, unrouted };
}

// ---- arbitraries ---------------------------------------------------------------------

const V4 = ["10.114.0.3", "10.114.0.4", "10.114.0.5"];
const V6 = ["fd00::1", "fd00::2"];
const DESTINATIONS = ["10.9.0.0/16", "10.10.0.0/16", "172.16.0.0/12", "0.0.0.0/0", "fd50::/48", "::/0"];

const routesArb = fc
  .uniqueArray(
    fc.record({
      name: fc.constantFrom("alpha", "beta", "gamma"),
      destinations: fc.uniqueArray(fc.constantFrom(...DESTINATIONS), { minLength: 1, maxLength: 3 }),
      gateways: fc.uniqueArray(fc.constantFrom(...V4, ...V6), { minLength: 1, maxLength: 3 }),
      table: fc.constantFrom(254, 100),
    }),
    { minLength: 1, maxLength: 3, selector: (r) => r.name },
  )
  .map((specs) => specs.map(({ name, ...spec }) => route(name, spec)));

const settingsArb: fc.Arbitrary<EngineSettings> = fc
  .record({
    mode: fc.constantFrom("groups" as const, "multipath" as const),
    resilient: fc.boolean(),
    // A small range makes the third program's nexthops collide with the ids kroute's hash picks.
    range: fc.constantFrom(undefined, RANGE),
  })
  .map(({ mode, resilient, range }) => {
    const { resilient: params, ...rest } = DEFAULT_SETTINGS;
    return {
      ...rest,
      nexthopMode: mode,
      ...(range === undefined ? {} : { nexthopIdCount: range }),
      ...(resilient && params !== undefined ? { resilient: params } : {}),
    };
  });

/** A third program's objects: routes at kroute's destinations with other metrics, its nexthops in kroute's id range, a rule at kroute's priority. */
const thirdArb: fc.Arbitrary<KernelSnapshot> = fc
  .record({
    routes: fc.uniqueArray(
      fc.record({
        family: fc.constant(4 as const),
        table: fc.constantFrom(254, 100),
        dst: fc.constantFrom("10.9.0.0/16", "10.10.0.0/16", "0.0.0.0/0").map((p) => p as Prefix),
        metric: fc.constantFrom(0, 20, 100),
        protocol: fc.constant(THIRD),
        scope: fc.constant(0),
        target: fc.constant({
          kind: "gateways" as const,
          nexthops: [{ gateway: "10.114.0.9" as IpAddr, dev: "eth1", weight: 1 }],
        }),
      }),
      { maxLength: 3, selector: (r) => `${r.table}|${r.dst}|${r.metric}` },
    ),
    nexthopIds: fc.uniqueArray(fc.integer({ min: 0, max: RANGE - 1 }), { maxLength: 3 }),
    rule: fc.boolean(),
  })
  .map(({ routes, nexthopIds, rule }) => ({
    ...emptySnapshot,
    routes,
    nexthops: nexthopIds.map(
      (i): KernelNexthop => ({ kind: "opaque", id: BASE + i, protocol: THIRD, type: "blackhole" }),
    ),
    rules: rule
      ? [{ family: 4 as const, priority: 1350, src: "10.0.0.10/32" as Prefix, table: 135, protocol: THIRD }]
      : [],
  }));

describe("handing kroute's objects over from an old protocol (adoptProtocol)", () => {
  it("never leaves a destination unrouted, never touches a third protocol, and converges to a fresh agent's table", () => {
    fc.assert(
      fc.property(settingsArb, routesArb, thirdArb, (settings, routes, third) => {
        const { old, kernel, beforeSync, batches, final, unrouted } = handover(settings, routes, third);
        // A destination of a family no gateway has is never programmed: nothing to hand over.
        fc.pre(ownedObjects(old.kernel).routes.length > 0);
        expect(unrouted).toEqual([]);
        // Before every source synced: rewrites at most, no delete.
        expect(beforeSync.filter((op) => op.action === "delete")).toEqual([]);
        const thirdIds = new Set(third.nexthops.map((n) => n.id));
        for (const op of batches.flat()) {
          for (const subject of subjects(op)) expect([OLD, NEW]).toContain(subject.protocol);
          if (op.action !== "delete") {
            expect(op.to.protocol).toBe(NEW);
            const ids =
              "target" in op.to
                ? op.to.target.kind === "nexthop-object"
                  ? [op.to.target.id]
                  : []
                : "id" in op.to
                  ? [op.to.id, ...(op.to.kind === "group" ? op.to.members.map((m) => m.id) : [])]
                  : [];
            for (const id of ids) expect(thirdIds.has(id)).toBe(false);
          }
        }
        // Linux refuses an add at a taken key (EEXIST): the old agent's routes are replaced, never added over.
        const oldKeys = new Set(ownedObjects(old.kernel).routes.map(routeKey));
        const addsOverOld = batches
          .flat()
          .filter((op) => op.object === "route" && op.action === "add" && oldKeys.has(routeKey(op.to)));
        expect(addsOverOld).toEqual([]);
        expect(leftBehind(kernel, batches.flat())).toEqual([]);
        expect(canPrune(final)).toBe(true);
        const owned = ownedObjects(final.kernel);
        const all = [...owned.routes, ...owned.nexthops, ...owned.rules];
        expect(all.filter((o) => o.protocol !== NEW)).toEqual([]);
        const desired = desiredTable(final);
        expect(owned.routes.map(canonicalRoute).sort()).toEqual(desired.routes.map(canonicalRoute).sort());
        expect(owned.nexthops.map(canonicalNexthop).sort()).toEqual(
          desired.nexthops.map(canonicalNexthop).sort(),
        );
        expect(owned.rules.map(canonicalRule).sort()).toEqual(desired.rules.map(canonicalRule).sort());
        // The old nexthops' ids are free again once deleted, as after a fresh start.
        expect([...hmKeys(final.kernel.othersIds)].sort()).toEqual(
          third.nexthops.map((n) => String(n.id)).sort(),
        );
        // The same destinations as the old agent routed, now under the new tag.
        const keys = (routes: readonly KernelRoute[]) =>
          routes.map((r) => `${r.table}|${r.dst}|${r.metric}`).sort();
        expect(keys(owned.routes)).toEqual(keys(ownedObjects(old.kernel).routes));
      }),
      { numRuns: 150 },
    );
  });

  it("rewrites a route in place and moves it onto new nexthops before deleting the old ones", () => {
    const settings = { ...DEFAULT_SETTINGS };
    const routes = [
      route("egress", { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3", "10.114.0.4"] }),
    ];
    const { old, kernel, batches, unrouted } = handover(settings, routes, emptySnapshot);
    expect(unrouted).toEqual([]);
    const oldIds = new Set(ownedObjects(old.kernel).nexthops.map((n) => n.id));
    const ops = batches.flat();
    const routeOps = ops.filter((op) => op.object === "route");
    // In place (Linux keys a route by table, dst, tos and metric, not protocol): never a delete and an add.
    expect(routeOps.map((op) => op.action)).not.toContain("delete");
    const firstReplace = ops.findIndex((op) => op.object === "route" && op.action === "replace");
    const firstOldDelete = ops.findIndex(
      (op) => op.action === "delete" && "id" in op.from && oldIds.has(op.from.id),
    );
    expect(firstReplace).toBeGreaterThanOrEqual(0);
    expect(firstOldDelete).toBeGreaterThan(firstReplace);
    expect(kernel.nexthops.every((n) => n.protocol === OLD)).toBe(true);
  });

  it("leaves a third protocol's routes, nexthops and rules out of every op, at kroute's own keys and ids too", () => {
    const third: KernelSnapshot = {
      ...emptySnapshot,
      routes: [
        {
          family: 4,
          table: 254,
          dst: "10.9.0.0/16" as Prefix,
          metric: 100,
          protocol: THIRD,
          scope: 0,
          target: {
            kind: "gateways",
            nexthops: [{ gateway: "10.114.0.9" as IpAddr, dev: "eth1", weight: 1 }],
          },
        },
      ],
      nexthops: [{ kind: "opaque", id: BASE + 7, protocol: THIRD, type: "blackhole" }],
    };
    const routes = [
      route("egress", { destinations: ["10.9.0.0/16", "0.0.0.0/0"], gateways: ["10.114.0.3"] }),
    ];
    const { batches } = handover({ ...DEFAULT_SETTINGS }, routes, third);
    const named = batches.flat().flatMap(subjects);
    expect(named.length).toBeGreaterThan(0);
    expect(named.filter((o) => o.protocol === THIRD)).toEqual([]);
  });
});
