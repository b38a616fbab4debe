import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { routableCount } from "../src/admission.ts";
import { desiredTable, routeOutcome } from "../src/desired.ts";
import type { EventBody } from "../src/events.ts";
import { type HashMap, hmEntries, hmValues } from "../src/hashmap.ts";
import { reduce } from "../src/reducer.ts";
import type { RouteObject } from "../src/route.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import type { NodeState } from "../src/state.ts";
import { ev, NODE, readyState, reduceAll, route } from "./fixtures.ts";

const CAPPED = { ...DEFAULT_SETTINGS, maxDestinations: 3 };
const GATEWAYS = ["10.114.0.3"];
const REFUSED =
  "this node programs at most 3 destinations (--max-destinations 3), and older Routes' (creationTimestamp, then name) and this Route's earlier destinations take them all";

/** Three Routes wanting five destinations: `old` and `young` by creation time, `alpha` and `beta` tied at one. */
const OLD = route(
  "old",
  { destinations: ["10.1.0.0/16", "10.2.0.0/16"], gateways: GATEWAYS },
  "2025-01-01T00:00:00Z",
);
const ALPHA = route("alpha", { destinations: ["10.3.0.0/16"], gateways: GATEWAYS }, "2025-02-01T00:00:00Z");
const BETA = route(
  "beta",
  { destinations: ["10.4.0.0/16", "10.5.0.0/16"], gateways: GATEWAYS },
  "2025-02-01T00:00:00Z",
);

function upsert(state: NodeState, ...routes: RouteObject[]): NodeState {
  return reduceAll(
    state,
    routes.map((r) => ev({ type: "route/upserted", route: r })),
  );
}

function programmedDestinations(state: NodeState): string[] {
  return desiredTable(state)
    .routes.map((r) => r.dst)
    .sort();
}

function states(state: NodeState, name: string): string[] {
  return (routeOutcome(state, name)?.destinations ?? []).map((d) => `${d.destination} ${d.state}`);
}

describe("--max-destinations: the destinations one node programs", () => {
  it("past the cap, older Routes win, then the name, then the destination's place; the rest are refused naming the setting", () => {
    const state = upsert(readyState(CAPPED), BETA, OLD, ALPHA);
    expect(programmedDestinations(state)).toEqual(["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]);
    expect(states(state, "beta")).toEqual(["10.4.0.0/16 invalid", "10.5.0.0/16 invalid"]);
    expect(routeOutcome(state, "beta")?.destinations[0]?.reason).toBe(REFUSED);
    // The Route's own verdict is the same on every node: the cap is this node's.
    expect(routeOutcome(state, "beta")).toMatchObject({ accepted: true });

    // Within a Route, its first destinations go in.
    const partly = upsert(readyState(CAPPED), OLD, BETA);
    expect(programmedDestinations(partly)).toEqual(["10.1.0.0/16", "10.2.0.0/16", "10.4.0.0/16"]);
    expect(states(partly, "beta")).toEqual(["10.4.0.0/16 pending", "10.5.0.0/16 invalid"]);
  });

  it("the winners do not depend on the order Routes came in, and equal a table built from scratch", () => {
    const orders = [
      [OLD, ALPHA, BETA],
      [BETA, ALPHA, OLD],
      [ALPHA, BETA, OLD],
    ];
    const tables = orders.map((routes) => desiredTable(upsert(readyState(CAPPED), ...routes)));
    const resynced = reduce(readyState(CAPPED), ev({ type: "route/resynced", routes: [BETA, OLD, ALPHA] }));
    for (const table of tables) expect(table).toEqual(desiredTable(resynced));
  });

  it("a Route left out takes effect when room appears, and is left out again when an older one returns", () => {
    let state = upsert(readyState(CAPPED), OLD, ALPHA, BETA);
    state = reduce(state, ev({ type: "route/deleted", name: "old" }));
    expect(programmedDestinations(state)).toEqual(["10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16"]);
    expect(states(state, "beta")).toEqual(["10.4.0.0/16 pending", "10.5.0.0/16 pending"]);

    // A newer Route does not push out those already in.
    const young = route(
      "young",
      { destinations: ["10.6.0.0/16"], gateways: GATEWAYS },
      "2025-03-01T00:00:00Z",
    );
    state = upsert(state, young);
    expect(programmedDestinations(state)).toEqual(["10.3.0.0/16", "10.4.0.0/16", "10.5.0.0/16"]);
    expect(states(state, "young")).toEqual(["10.6.0.0/16 invalid"]);

    // A Route shrinking makes room for the next in line.
    state = upsert(
      state,
      route("beta", { destinations: ["10.4.0.0/16"], gateways: GATEWAYS }, "2025-02-01T00:00:00Z"),
    );
    expect(programmedDestinations(state)).toEqual(["10.3.0.0/16", "10.4.0.0/16", "10.6.0.0/16"]);

    // The older Route back: it is first in line again.
    state = upsert(state, OLD);
    expect(programmedDestinations(state)).toEqual(["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]);
    expect(states(state, "young")).toEqual(["10.6.0.0/16 invalid"]);
  });

  it("a default-route override past the cap brings neither its protected host routes nor its reply rules", () => {
    const override = route(
      "override",
      { destinations: ["0.0.0.0/0"], gateways: GATEWAYS },
      "2025-03-01T00:00:00Z",
    );
    const full = upsert(readyState(CAPPED), OLD, ALPHA, override);
    expect(programmedDestinations(full)).toEqual(["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]);
    expect(desiredTable(full).rules).toEqual([]);
    const roomy = reduce(full, ev({ type: "route/deleted", name: "alpha" }));
    expect(desiredTable(roomy).routes.some((r) => r.dst === "0.0.0.0/0")).toBe(true);
    expect(desiredTable(roomy).rules).not.toEqual([]);
  });

  it("a node moving between pools over the cap holds what a node started in the new pool holds", () => {
    const inPool = (pool: string) => ({
      nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: [pool] }] }],
    });
    const pooled = (name: string, pool: string, destinations: string[], created: string) =>
      route(name, { destinations, gateways: GATEWAYS, nodeSelector: inPool(pool) }, created);
    const everywhere = (name: string, destination: string, created: string) =>
      route(name, { destinations: [destination], gateways: GATEWAYS }, created);
    // Fewer Routes flip than stay: the move is worked out Route by Route, not rebuilt.
    const routes = [
      everywhere("s1", "10.10.0.0/16", "2024-01-01T00:00:00Z"),
      everywhere("s2", "10.11.0.0/16", "2024-02-01T00:00:00Z"),
      everywhere("s3", "10.12.0.0/16", "2025-06-01T00:00:00Z"),
      everywhere("s4", "10.13.0.0/16", "2025-07-01T00:00:00Z"),
      pooled("a-old", "a", ["10.1.0.0/16", "10.2.0.0/16"], "2024-06-01T00:00:00Z"),
      pooled("b-old", "b", ["10.5.0.0/16"], "2023-01-01T00:00:00Z"),
      pooled("b-young", "b", ["10.6.0.0/16"], "2025-03-01T00:00:00Z"),
    ];
    const label = (pool: string) => ev({ type: "node/observed", node: NODE, labels: { pool } });
    const before = upsert(readyState(CAPPED, { pool: "a" }), ...routes);
    expect(programmedDestinations(before)).toEqual(["10.1.0.0/16", "10.10.0.0/16", "10.11.0.0/16"]);
    const moved = reduceAll(before, [label("b")]);
    const fresh = upsert(readyState(CAPPED, { pool: "b" }), ...routes);
    expect(programmedDestinations(moved)).toEqual(["10.10.0.0/16", "10.11.0.0/16", "10.5.0.0/16"]);
    expect(desiredTable(moved)).toEqual(desiredTable(fresh));
  });

  it("destinations that claim no route here (refused, pending) take no room", () => {
    const refused = route(
      "refused",
      { destinations: ["127.0.0.0/8", "169.254.0.0/16"], gateways: GATEWAYS },
      "2024-01-01T00:00:00Z",
    );
    const state = upsert(readyState(CAPPED), refused, OLD, ALPHA);
    expect(programmedDestinations(state)).toEqual(["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"]);
  });

  it("kept Route by Route, who gets in is what sorting every Route by seniority gives, and what a restart computes", () => {
    const names = Array.from({ length: 12 }, (_, i) => `r${i}`);
    const prefixes = Array.from({ length: 8 }, (_, i) => `10.${i + 1}.0.0/16`);
    // Few creation times, so that many Routes tie on one and the name decides; an upsert
    // with another time is the Route deleted and created again.
    const times = ["2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"];
    const inPoolA = {
      nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["a"] }] }],
    };
    const routeArb = fc
      .record({
        name: fc.constantFrom(...names),
        time: fc.constantFrom(...times),
        destinations: fc.uniqueArray(fc.constantFrom(...prefixes, "127.0.0.0/8"), {
          minLength: 1,
          maxLength: 5,
        }),
        pooled: fc.boolean(),
      })
      .map(({ name, time, destinations, pooled }) =>
        route(name, { destinations, gateways: GATEWAYS, ...(pooled ? { nodeSelector: inPoolA } : {}) }, time),
      );
    const eventArb: fc.Arbitrary<EventBody> = fc.oneof(
      { weight: 6, arbitrary: routeArb.map((r): EventBody => ({ type: "route/upserted", route: r })) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(...names).map((name): EventBody => ({ type: "route/deleted", name })),
      },
      {
        weight: 1,
        arbitrary: fc
          .constantFrom({}, { pool: "a" })
          .map((labels): EventBody => ({ type: "node/observed", node: NODE, labels })),
      },
    );
    /** The admission as first written: every Route wanting destinations, sorted, walked. */
    const sortedAdmission = (state: NodeState, cap: number): [string, number][] => {
      const wanting = hmValues(state.derived.contributions).filter((c) => routableCount(c) > 0);
      wanting.sort((a, b) => (a.seniority < b.seniority ? -1 : 1));
      let room = cap;
      const capped: [string, number][] = [];
      for (const c of wanting) {
        if (routableCount(c) <= room) room -= routableCount(c);
        else {
          capped.push([c.name, room]);
          room = 0;
        }
      }
      return capped.sort();
    };
    const entries = (map: HashMap<number>) => hmEntries(map).sort();
    fc.assert(
      fc.property(fc.constantFrom(1, 4, 9, 16), fc.array(eventArb, { maxLength: 40 }), (cap, events) => {
        const settings = { ...DEFAULT_SETTINGS, maxDestinations: cap };
        let state = readyState(settings);
        const final = new Map<string, RouteObject>();
        let labels = {};
        for (const body of events) {
          state = reduceAll(state, [ev(body)]);
          if (body.type === "route/upserted") final.set(body.route.metadata.name, body.route);
          if (body.type === "route/deleted") final.delete(body.name);
          if (body.type === "node/observed") labels = body.labels;
          expect(entries(state.derived.capped)).toEqual(sortedAdmission(state, cap));
          // The order is kept while over the cap only: a node within it holds no second index.
          expect(state.derived.seniorityOrder === null).toBe(state.derived.capped.size === 0);
        }
        const restarted = reduceAll(readyState(settings, labels), [
          ev({ type: "route/resynced", routes: [...final.values()] }),
        ]);
        expect(entries(state.derived.capped)).toEqual(entries(restarted.derived.capped));
        expect(desiredTable(state)).toEqual(desiredTable(restarted));
      }),
    );
  });
});
