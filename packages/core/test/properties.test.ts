/**
 * Properties of the reconciliation core (issue 2), each one able to fail:
 * idempotence, convergence from any kernel state, ownership, determinism and order
 * independence, and healthy same-family gateways.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalNexthop, canonicalRoute, canonicalRule } from "../src/canonical.ts";
import { desiredTable } from "../src/desired.ts";
import { diff } from "../src/diff.ts";
import type { EngineEvent, EventBody } from "../src/events.ts";
import { hmGet, hmKeys, hmValues } from "../src/hashmap.ts";
import { familyOf, hostPrefix, type IpAddr, type Prefix, prefixContains, prefixLength } from "../src/ip.ts";
import {
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  type Op,
  routeKey,
} from "../src/kernel.ts";
import { applyOps, nexthopIdInRange, ownedObjects, ownsNexthop } from "../src/owned.ts";
import { canPrune, plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import type { RouteObject } from "../src/route.ts";
import { DEFAULT_SETTINGS, type EngineSettings } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";
import { emptySnapshot, hostFacts, NODE } from "./fixtures.ts";

const V4_GATEWAYS = ["10.114.0.3", "10.114.0.4", "10.114.0.5", "192.0.2.9"];
const V6_GATEWAYS = ["fd00::1", "fd00::2"];
const DESTINATIONS = [
  "10.9.0.0/16",
  "10.10.0.0/16",
  "203.0.113.100",
  "172.16.0.0/12",
  "1.2.3.4/5",
  // Hold protected addresses of the host facts without being a default route.
  "128.0.0.0/1",
  "203.0.0.0/8",
  "0.0.0.0/0",
  "127.0.0.0/8",
  "fd50::/48",
  "::/0",
  "nonsense",
];
const NAMES = ["alpha", "beta", "gamma", "delta"];
const TIMES = ["2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"];

const selectorArb = fc.constantFrom(
  undefined,
  { nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["a"] }] }] },
  { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [NODE] }] }] },
);

const routeArb = (name: fc.Arbitrary<string>): fc.Arbitrary<RouteObject> =>
  fc
    .record({
      name,
      time: fc.constantFrom(...TIMES),
      destinations: fc.uniqueArray(fc.constantFrom(...DESTINATIONS), { minLength: 1, maxLength: 4 }),
      gateways: fc.uniqueArray(fc.constantFrom(...V4_GATEWAYS, ...V6_GATEWAYS), {
        minLength: 1,
        maxLength: 3,
      }),
      probe: fc.boolean(),
      table: fc.constantFrom(254, 254, 100),
      selector: selectorArb,
    })
    .map(({ name, time, selector, ...spec }) => ({
      metadata: { name, generation: 1, creationTimestamp: time },
      spec: { ...spec, ...(selector === undefined ? {} : { nodeSelector: selector }) },
    }));

const settingsArb: fc.Arbitrary<EngineSettings> = fc
  .record({
    mode: fc.constantFrom("groups" as const, "multipath" as const),
    range: fc.constantFrom(undefined, 16, 3),
    resilient: fc.boolean(),
    // Fewer than the Routes want, often: which destinations get in must not depend on
    // the order of events (admission.ts).
    cap: fc.constantFrom(undefined, 1, 3),
  })
  .map(({ mode, range, resilient, cap }) => {
    const { resilient: params, maxDestinations: _default, ...rest } = DEFAULT_SETTINGS;
    return {
      ...rest,
      ...(cap === undefined ? {} : { maxDestinations: cap }),
      nexthopMode: mode,
      // A tiny id range forces collisions and linear probing; one of 3 ids runs out
      // (two gateways and their group fill it), and frees up as Routes go.
      ...(range === undefined ? {} : { nexthopIdCount: range }),
      ...(resilient && params !== undefined ? { resilient: params } : {}),
    };
  });

const probeArb = fc
  .record({ gateway: fc.constantFrom(...V4_GATEWAYS, ...V6_GATEWAYS), up: fc.boolean() })
  .map(
    ({ gateway, up }): EventBody => ({ type: "probe/result", node: NODE, gateway: gateway as IpAddr, up }),
  );

const eventArb: fc.Arbitrary<EventBody> = fc.oneof(
  {
    weight: 5,
    arbitrary: routeArb(fc.constantFrom(...NAMES)).map(
      (route): EventBody => ({ type: "route/upserted", route }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(...NAMES).map((name): EventBody => ({ type: "route/deleted", name })),
  },
  { weight: 3, arbitrary: probeArb },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom({}, { pool: "a" }, { pool: "b" })
      .map((labels): EventBody => ({ type: "node/observed", node: NODE, labels })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({
        metric: fc.constantFrom(100, 0, undefined),
        // The API server behind the default route, or on the node's own eth1 network.
        apiServer: fc.constantFrom("203.0.113.100", "10.114.0.50"),
      })
      .map(({ metric, apiServer }) =>
        hostFacts({
          defaultGateways: metric === undefined ? [] : [{ via: "10.0.0.1" as IpAddr, dev: "eth0", metric }],
          apiServers: [apiServer as IpAddr],
        }),
      ),
  },
);

// ---- kernel states: foreign objects, stale and damaged owned ones ------------------

const prefixArb = fc
  .constantFrom(
    ...["10.9.0.0/16", "10.10.0.0/16", "0.0.0.0/5", "203.0.113.100/32", "10.77.0.0/16", "0.0.0.0/0"],
  )
  .map((p) => p as Prefix);
const protocolArb = (owned: boolean) =>
  owned ? fc.constant(DEFAULT_SETTINGS.protocol) : fc.constantFrom(2, 3, 4, 16, 186);
const ownedIdArb = fc.integer({ min: 0, max: 15 }).map((i) => DEFAULT_SETTINGS.nexthopIdBase + i);
const kernelRouteArb = (owned: boolean): fc.Arbitrary<KernelRoute> =>
  fc.record({
    family: fc.constant(4 as const),
    table: fc.constantFrom(254, 100, 135),
    dst: prefixArb,
    metric: fc.constantFrom(0, 50, 100),
    protocol: protocolArb(owned),
    scope: fc.constant(0),
    target: fc.oneof(
      fc.record({ kind: fc.constant("nexthop-object" as const), id: ownedIdArb }),
      fc.record({
        kind: fc.constant("gateways" as const),
        nexthops: fc.constant([{ gateway: "10.114.0.3" as IpAddr, dev: "eth1", weight: 1 }]),
      }),
      fc.record({ kind: fc.constant("device" as const), dev: fc.constant("eth9") }),
    ),
  });
/** Another program's nexthop at an id of kroute's range: a blackhole, or a gateway of its own. */
const othersNexthopArb: fc.Arbitrary<KernelNexthop> = fc.oneof(
  fc.record({
    kind: fc.constant("opaque" as const),
    id: ownedIdArb,
    protocol: protocolArb(false),
    type: fc.constant("blackhole" as const),
  }),
  fc.record({
    kind: fc.constant("gateway" as const),
    id: ownedIdArb,
    family: fc.constant(4 as const),
    protocol: protocolArb(false),
    gateway: fc.constant("10.114.0.3" as IpAddr),
    dev: fc.constant("eth1"),
  }),
);
const kernelNexthopArb: fc.Arbitrary<KernelNexthop> = fc.oneof(
  fc.record({
    kind: fc.constant("gateway" as const),
    id: ownedIdArb,
    family: fc.constant(4 as const),
    protocol: fc.constant(DEFAULT_SETTINGS.protocol),
    gateway: fc.constantFrom(...V4_GATEWAYS.slice(0, 3)).map((g) => g as IpAddr),
    dev: fc.constantFrom("eth1", "eth0"),
  }),
  fc.record({
    kind: fc.constant("group" as const),
    id: ownedIdArb,
    protocol: fc.constant(DEFAULT_SETTINGS.protocol),
    members: fc
      .uniqueArray(ownedIdArb, { minLength: 1, maxLength: 2 })
      .map((ids) => ids.sort((a, b) => a - b).map((id) => ({ id, weight: 1 }))),
    groupType: fc.constant("mpath" as const),
  }),
  othersNexthopArb,
);
const kernelRuleArb = (owned: boolean): fc.Arbitrary<KernelRule> =>
  fc.record({
    family: fc.constant(4 as const),
    priority: fc.constantFrom(1350, 1000),
    src: fc.constantFrom("10.0.0.10/32", "10.0.0.11/32").map((p) => p as Prefix),
    table: fc.constant(135),
    protocol: protocolArb(owned),
  });

/** A kernel with foreign objects and owned ones that are stale or damaged (groups naming missing ids included). */
const snapshotArb: fc.Arbitrary<KernelSnapshot> = fc
  .record({
    foreign: fc.array(kernelRouteArb(false), { maxLength: 4 }),
    owned: fc.array(kernelRouteArb(true), { maxLength: 4 }),
    nexthops: fc.uniqueArray(kernelNexthopArb, { maxLength: 4, selector: (n) => n.id }),
    rules: fc.array(fc.oneof(kernelRuleArb(true), kernelRuleArb(false)), { maxLength: 3 }),
  })
  .map(({ foreign, owned, nexthops, rules }) => ({
    routes: [...foreign, ...owned],
    nexthops,
    rules,
    links: [],
    addresses: [{ ip: "10.114.0.10" as IpAddr, prefixLength: 20, dev: "eth1" }],
    complete: true,
  }));

/** Changes made by someone else: owned objects deleted or replaced, foreign ones coming and going. */
const driftArb: fc.Arbitrary<EventBody> = fc.oneof(
  fc
    .record({ owned: fc.boolean(), action: fc.constantFrom("new" as const, "del" as const) })
    .chain(({ owned, action }) =>
      kernelRouteArb(owned).map(
        (route): EventBody => ({
          type: "kernel/changed",
          node: NODE,
          change: { kind: "route", action, route },
        }),
      ),
    ),
  fc.record({ nexthop: kernelNexthopArb, action: fc.constantFrom("new" as const, "del" as const) }).map(
    ({ nexthop, action }): EventBody => ({
      type: "kernel/changed",
      node: NODE,
      change: { kind: "nexthop", action, nexthop },
    }),
  ),
  fc.record({ rule: kernelRuleArb(true), action: fc.constantFrom("new" as const, "del" as const) }).map(
    ({ rule, action }): EventBody => ({
      type: "kernel/changed",
      node: NODE,
      change: { kind: "rule", action, rule },
    }),
  ),
);

/** Inputs of every kind, kernel drift included. */
const anyEventArb = fc.oneof({ weight: 3, arbitrary: eventArb }, { weight: 1, arbitrary: driftArb });

// ---- helpers ----------------------------------------------------------------------------

function run(settings: EngineSettings, bodies: readonly EventBody[]): NodeState {
  let seq = 0;
  return bodies.reduce(
    (state, body) => {
      seq += 1;
      return reduce(state, {
        v: 1,
        seq,
        at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
        ...body,
      } as EngineEvent);
    },
    initialNodeState(NODE, settings),
  );
}

function synced(snapshot: KernelSnapshot, routes: readonly RouteObject[] = []): EventBody[] {
  return [
    { type: "kernel/observed", node: NODE, snapshot },
    { type: "node/observed", node: NODE, labels: { pool: "a" } },
    hostFacts(),
    { type: "route/resynced", routes },
  ];
}

function canonicalOwned(kernel: NodeState["kernel"], leftOut: ReadonlySet<number> = new Set()) {
  const owned = ownedObjects(kernel);
  return {
    routes: owned.routes.map(canonicalRoute).sort(),
    nexthops: owned.nexthops
      .filter((n) => !leftOut.has(n.id))
      .map(canonicalNexthop)
      .sort(),
    rules: owned.rules.map(canonicalRule).sort(),
  };
}

/**
 * kroute's nexthops no Route wants that others' routes, as the kernel view has them, go
 * through: directly, or through a group of kroute's that holds them.
 */
function keptForOthersRoutes(state: NodeState): Set<number> {
  const desired = new Set(desiredTable(state).nexthops.map((n) => n.id));
  const through = new Set<number>();
  for (const routes of hmValues(state.kernel.nexthopUsers.byKey))
    for (const route of routes) if (route.target.kind === "nexthop-object") through.add(route.target.id);
  const kept = new Set<number>();
  for (const nexthop of ownedObjects(state.kernel).nexthops) {
    if (!through.has(nexthop.id)) continue;
    kept.add(nexthop.id);
    if (nexthop.kind === "group") for (const member of nexthop.members) kept.add(member.id);
  }
  return new Set([...kept].filter((id) => !desired.has(id)));
}

function canonicalDesired(state: NodeState) {
  const table = desiredTable(state);
  return {
    routes: table.routes.map(canonicalRoute).sort(),
    nexthops: table.nexthops.map(canonicalNexthop).sort(),
    rules: table.rules.map(canonicalRule).sort(),
  };
}

function applyAllOk(state: NodeState, ops: readonly Op[]): NodeState {
  return reduce(state, {
    v: 1,
    seq: 1_000_000,
    at: "2026-06-01T00:00:00.000Z",
    type: "dataplane/applied",
    node: NODE,
    results: ops.map((op) => ({ op, result: { ok: true } })),
  });
}

/** The nexthop ids a route or nexthop written by kroute sits at or goes through. */
function idsUsed(object: KernelRoute | KernelNexthop): number[] {
  if ("target" in object) return object.target.kind === "nexthop-object" ? [object.target.id] : [];
  return object.kind === "group" ? [object.id, ...object.members.map((m) => m.id)] : [object.id];
}

const opSubjects = (op: Op) =>
  op.action === "add" ? [op.to] : op.action === "delete" ? [op.from] : [op.from, op.to];

describe("core properties", () => {
  it("(1) applying a diff and diffing again gives no ops", () => {
    fc.assert(
      fc.property(
        settingsArb,
        snapshotArb,
        fc.array(anyEventArb, { maxLength: 25 }),
        (settings, snapshot, events) => {
          const state = run(settings, [...synced(snapshot), ...events]);
          const desired = desiredTable(state);
          const ops = diff(desired, state.kernel, { prune: true });
          expect(diff(desired, applyOps(state.kernel, ops), { prune: true })).toEqual([]);
          // The incremental plan is the from-scratch diff, and applying it leaves nothing to do.
          expect(plan(state)).toEqual(diff(desired, state.kernel, { prune: canPrune(state) }));
          expect(plan(applyAllOk(state, plan(state)))).toEqual([]);
        },
      ),
    );
  });

  it("(2) from any kernel state, one apply makes the owned state equal the desired state", () => {
    fc.assert(
      fc.property(
        settingsArb,
        snapshotArb,
        fc.array(anyEventArb, { maxLength: 25 }),
        (settings, snapshot, events) => {
          const state = run(settings, [...synced(snapshot), ...events]);
          expect(canPrune(state)).toBe(true);
          const after = applyAllOk(state, plan(state));
          // But for kroute's nexthops others' routes go through (nexthop-users.ts): kept.
          const kept = keptForOthersRoutes(after);
          expect(canonicalOwned(after.kernel, kept)).toEqual(canonicalDesired(after));
        },
      ),
    );
  });

  it("(3) no op ever names a foreign object", () => {
    fc.assert(
      fc.property(
        settingsArb,
        snapshotArb,
        fc.array(anyEventArb, { maxLength: 25 }),
        (settings, snapshot, events) => {
          const state = run(settings, [...synced(snapshot), ...events]);
          const ops = [...plan(state), ...diff(desiredTable(state), state.kernel, { prune: true })];
          // Every kernel object the inputs ever showed: the dump, then change notifications.
          const seen = {
            routes: new Set(snapshot.routes.map(canonicalRoute)),
            nexthops: new Set(snapshot.nexthops.map((n) => n.id)),
            rules: new Set(snapshot.rules.map(canonicalRule)),
          };
          for (const event of events) {
            if (event.type !== "kernel/changed") continue;
            const change = event.change;
            if (change.kind === "route") seen.routes.add(canonicalRoute(change.route));
            if (change.kind === "nexthop") seen.nexthops.add(change.nexthop.id);
            if (change.kind === "rule") seen.rules.add(canonicalRule(change.rule));
          }
          // Nor does anything kroute writes sit at, or route through, an id another's nexthop holds.
          const othersIds = new Set(hmKeys(state.kernel.othersIds).map(Number));
          for (const op of ops) {
            if (op.action !== "delete" && op.object !== "rule")
              for (const id of idsUsed(op.to)) expect(othersIds.has(id)).toBe(false);
            for (const subject of opSubjects(op)) {
              // kroute writes only ids of its range, and removes only what it owns (its protocol, in its range).
              if (op.object === "nexthop" && op.action !== "delete" && subject === op.to)
                expect(nexthopIdInRange(op.to.id, settings)).toBe(true);
              else if (op.object === "nexthop")
                expect(ownsNexthop(subject as KernelNexthop, settings)).toBe(true);
              else expect((subject as KernelRoute | KernelRule).protocol).toBe(settings.protocol);
            }
            if (op.action !== "add") {
              const from = op.from;
              const known =
                op.object === "route"
                  ? seen.routes.has(canonicalRoute(from as KernelRoute))
                  : op.object === "nexthop"
                    ? seen.nexthops.has((from as KernelNexthop).id)
                    : seen.rules.has(canonicalRule(from as KernelRule));
              expect(known).toBe(true);
            }
          }
        },
      ),
    );
  });

  it("(4) same events, same table; the final table depends only on the final version of each Route", () => {
    const finalRoutes = fc.uniqueArray(routeArb(fc.constantFrom(...NAMES)), {
      minLength: 1,
      maxLength: 4,
      selector: (r) => r.metadata.name,
    });
    fc.assert(
      fc.property(
        settingsArb,
        finalRoutes,
        fc.array(routeArb(fc.constantFrom(...NAMES)), { maxLength: 6 }),
        fc.array(probeArb, { maxLength: 6 }),
        fc.func(fc.integer()),
        (settings, finals, earlier, probes, shuffleKey) => {
          const upsert = (route: RouteObject): EventBody => ({ type: "route/upserted", route });
          const finalNames = new Set(finals.map((r) => r.metadata.name));
          // Earlier versions of the same names, and Routes deleted in the end.
          const history = earlier.map(upsert);
          const deletions = NAMES.filter((n) => !finalNames.has(n)).map(
            (name): EventBody => ({ type: "route/deleted", name }),
          );
          const lastVersions = [...finals.map(upsert), ...deletions];
          const shuffled = [...lastVersions].sort(
            (a, b) => shuffleKey(JSON.stringify(a)) - shuffleKey(JSON.stringify(b)),
          );
          const base = synced(emptySnapshot);
          const one = run(settings, [...base, ...probes, ...history, ...lastVersions]);
          const again = run(settings, [...base, ...probes, ...history, ...lastVersions]);
          const reordered = run(settings, [...base, ...probes, ...history, ...shuffled]);
          // The level-based snapshot of the same final Routes, built from scratch.
          const resynced = run(settings, [...base, ...probes, { type: "route/resynced", routes: finals }]);
          const table = desiredTable(one);
          expect(desiredTable(again)).toEqual(table);
          expect(desiredTable(reordered)).toEqual(table);
          expect(desiredTable(resynced)).toEqual(table);
        },
      ),
    );
  });

  it("(5) every desired route's gateways share its family and are healthy, unless all are down", () => {
    fc.assert(
      fc.property(settingsArb, fc.array(eventArb, { maxLength: 30 }), (settings, events) => {
        const state = run(settings, [...synced(emptySnapshot), ...events]);
        const table = desiredTable(state);
        const byId = new Map(table.nexthops.map((n) => [n.id, n]));
        const gatewaysOf = (route: KernelRoute): string[] => {
          if (route.target.kind === "gateways") return route.target.nexthops.map((n) => n.gateway);
          if (route.target.kind !== "nexthop-object") return [];
          const object = byId.get(route.target.id);
          if (object?.kind === "gateway") return [object.gateway];
          return (object?.kind === "group" ? object.members : []).map((m) => {
            const member = byId.get(m.id);
            return member?.kind === "gateway" ? member.gateway : "missing";
          });
        };
        for (const route of table.routes) {
          const gateways = gatewaysOf(route);
          expect(gateways.length).toBeGreaterThan(0);
          for (const gateway of gateways) expect(familyOf(gateway as IpAddr)).toBe(route.family);
          const set = hmGet(
            state.derived.sets,
            hmGet(state.derived.using, `${route.family}|${route.table}|${route.dst}|${route.metric}`) ?? "",
          );
          expect(set).toBeDefined();
          if (set === undefined) continue;
          const members = set.members.map((m) => m.gateway);
          const healthy = set.probe ? members.filter((g) => state.probes[g]?.up !== false) : members;
          expect([...gateways].sort()).toEqual([...(healthy.length > 0 ? healthy : members)].sort());
        }
      }),
    );
  });

  it("(9) a protected address a desired route holds, which the default route would carry, keeps the original gateway", () => {
    fc.assert(
      fc.property(settingsArb, fc.array(eventArb, { maxLength: 30 }), (settings, events) => {
        const state = run(settings, [...synced(emptySnapshot), ...events]);
        const facts = state.host.facts;
        if (facts === undefined || facts.defaultGateways.length === 0) return;
        const connected = ["10.0.0.0/24", "10.114.0.0/20"] as Prefix[];
        const candidates = [
          ...facts.apiServers.map(hostPrefix),
          ...facts.dns.map(hostPrefix),
          ...facts.protect,
        ];
        const table = desiredTable(state);
        for (const route of table.routes) {
          if (route.table === settings.replyTable) continue;
          for (const candidate of candidates) {
            if (familyOf(candidate) !== route.family || prefixLength(candidate) <= prefixLength(route.dst))
              continue;
            if (!prefixContains(route.dst, candidate) || connected.some((c) => prefixContains(c, candidate)))
              continue;
            const pin = table.routes.find((r) => r.table === route.table && r.dst === candidate);
            const via =
              pin === undefined ? undefined : hmGet(state.derived.contenders, routeKey(pin))?.[0]?.set;
            expect(via, `${candidate} under ${route.dst} in table ${route.table}`).toBe("4|0|10.0.0.1@eth0");
          }
        }
      }),
    );
  });

  /** The last version of every input in `events`, the node and host facts defaulting to synced()'s. */
  function finalInputs(events: readonly EventBody[]) {
    const routes = new Map<string, RouteObject>();
    const probes = new Map<string, EventBody>();
    let node = synced(emptySnapshot)[1] as EventBody;
    let host = synced(emptySnapshot)[2] as EventBody;
    for (const event of events) {
      if (event.type === "route/upserted") routes.set(event.route.metadata.name, event.route);
      if (event.type === "route/deleted") routes.delete(event.name);
      if (event.type === "probe/result") probes.set(event.gateway, event);
      if (event.type === "node/observed") node = event;
      if (event.type === "host/observed") host = event;
    }
    return { routes, probes, node, host };
  }

  /** A table without its gateways' `since` times, which differ between two runs by when they happened. */
  function withoutSince(table: ReturnType<typeof desiredTable>) {
    return { ...table, gateways: table.gateways.map(({ since: _, ...g }) => g) };
  }

  it("(6) the incrementally kept table equals one computed from scratch from the final inputs", () => {
    fc.assert(
      fc.property(settingsArb, fc.array(eventArb, { maxLength: 40 }), (settings, events) => {
        const incremental = run(settings, [...synced(emptySnapshot), ...events]);
        // The final version of every input, replayed in a fixed order onto a fresh state.
        const { routes, probes, node, host } = finalInputs(events);
        const fromScratch = run(settings, [
          { type: "kernel/observed", node: NODE, snapshot: emptySnapshot },
          host,
          ...probes.values(),
          { type: "route/resynced", routes: [...routes.values()] },
          node,
        ]);
        const table = desiredTable(incremental);
        const expected = desiredTable(fromScratch);
        expect(withoutSince(table)).toEqual(withoutSince(expected));
      }),
    );
  });

  it("(7) around others' ids, the layout depends only on the final kernel: a restart adopts the same ids", () => {
    const othersChangeArb = fc
      .record({ nexthop: othersNexthopArb, action: fc.constantFrom("new" as const, "del" as const) })
      .map(
        ({ nexthop, action }): EventBody => ({
          type: "kernel/changed",
          node: NODE,
          change: { kind: "nexthop", action, nexthop },
        }),
      );
    const mixed = fc.oneof({ weight: 2, arbitrary: eventArb }, { weight: 1, arbitrary: othersChangeArb });
    fc.assert(
      fc.property(settingsArb, fc.array(mixed, { maxLength: 40 }), (settings, events) => {
        const incremental = run(settings, [...synced(emptySnapshot), ...events]);
        const { routes, probes, node, host } = finalInputs(events);
        const others = new Map<number, KernelNexthop>();
        for (const event of events) {
          if (event.type === "kernel/changed" && event.change.kind === "nexthop") {
            const { nexthop, action } = event.change;
            if (action === "new") others.set(nexthop.id, nexthop);
            else others.delete(nexthop.id);
          }
        }
        // A fresh agent whose first dump shows the others' nexthops as they ended.
        const restarted = run(settings, [
          {
            type: "kernel/observed",
            node: NODE,
            snapshot: { ...emptySnapshot, nexthops: [...others.values()] },
          },
          host,
          ...probes.values(),
          { type: "route/resynced", routes: [...routes.values()] },
          node,
        ]);
        const table = desiredTable(incremental);
        const expected = desiredTable(restarted);
        expect(withoutSince(table)).toEqual(withoutSince(expected));
        for (const nexthop of table.nexthops) expect(others.has(nexthop.id)).toBe(false);
      }),
    );
  });

  it("(8) another taking ids kroute's applied objects hold: kroute moves off them and converges, never touching theirs", () => {
    const takeArb = fc.array(othersNexthopArb, { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(settingsArb, fc.array(eventArb, { maxLength: 25 }), takeArb, (settings, events, taken) => {
        let state = run(settings, [...synced(emptySnapshot), ...events]);
        state = applyAllOk(state, plan(state));
        let seq = 2_000_000;
        for (const nexthop of taken) {
          state = reduce(state, {
            v: 1,
            seq: seq++,
            at: "2026-06-02T00:00:00.000Z",
            type: "kernel/changed",
            node: NODE,
            change: { kind: "nexthop", action: "new", nexthop },
          });
        }
        const theirs = new Set(taken.map((n) => n.id));
        const ops = plan(state);
        for (const op of ops) {
          if (op.action !== "delete" && op.object !== "rule")
            for (const id of idsUsed(op.to)) expect(theirs.has(id)).toBe(false);
          if (op.object === "nexthop" && op.action !== "add") expect(theirs.has(op.from.id)).toBe(false);
        }
        const after = applyAllOk(state, ops);
        expect(canonicalOwned(after.kernel)).toEqual(canonicalDesired(after));
        expect(plan(after)).toEqual([]);
      }),
    );
  });
});
