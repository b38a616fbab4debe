import { describe, expect, it } from "vitest";
import { desiredTable } from "../src/desired.ts";
import type { EngineEvent } from "../src/events.ts";
import type { KernelRoute, KernelSnapshot } from "../src/kernel.ts";
import { ownedObjects } from "../src/owned.ts";
import { plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import type { RouteObject } from "../src/route.ts";
import { DEFAULT_SETTINGS, type EngineSettings } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";
import { emptySnapshot, ev, hostFacts, MULTIPATH, NODE, readyState, reduceAll, route } from "./fixtures.ts";

const A = "10.114.0.3";
const B = "10.114.0.4";
const C = "10.114.0.5";
const egress = (gateways: string[]) => route("egress", { destinations: ["10.9.0.0/16"], gateways });

function probe(state: NodeState, gateway: string, up: boolean): NodeState {
  return reduce(state, ev({ type: "probe/result", node: NODE, gateway: gateway as never, up }));
}

function converge(state: NodeState): NodeState {
  const ops = plan(state);
  return reduce(
    state,
    ev({ type: "dataplane/applied", node: NODE, results: ops.map((op) => ({ op, result: { ok: true } })) }),
  );
}

/** The kernel an agent leaves behind after programming `routes` and judging gateways as `verdicts` says. */
function leftBehind(settings: EngineSettings, routes: RouteObject[], verdicts: [string, boolean][]) {
  let state = converge(reduce(readyState(settings), ev({ type: "route/resynced", routes })));
  for (const [gateway, up] of verdicts) state = converge(probe(state, gateway, up));
  return { ...emptySnapshot, ...ownedObjects(state.kernel) };
}

/** A restarted agent's first events in the agent's order (the kernel dump first), or in `order`. */
function restart(
  settings: EngineSettings,
  snapshot: KernelSnapshot,
  routes: RouteObject[],
  order: (events: EngineEvent[]) => EngineEvent[] = (events) => events,
): NodeState {
  const [dump, ...rest] = [
    ev({ type: "kernel/observed", node: NODE, snapshot }),
    ev(hostFacts()),
    ev({ type: "route/resynced", routes }),
    ev({ type: "node/observed", node: NODE, labels: {} }),
  ];
  const configured = ev({ type: "agent/configured", node: NODE, settings });
  return reduceAll(initialNodeState(NODE, settings), [configured, ...order([dump!, ...rest])]);
}

/** Gateways the desired route to 10.9.0.0/16 sends traffic to, sorted. */
function via(state: NodeState): string[] {
  return gatewaysOf(state).sort();
}

function gatewaysOf(state: NodeState): string[] {
  const table = desiredTable(state);
  const r: KernelRoute | undefined = table.routes.find((x) => x.dst === "10.9.0.0/16");
  if (r?.target.kind === "gateways") return r.target.nexthops.map((n) => n.gateway);
  if (r?.target.kind !== "nexthop-object") return [];
  const id = r.target.id;
  const object = table.nexthops.find((n) => n.id === id);
  if (object?.kind === "gateway") return [object.gateway];
  return (object?.kind === "group" ? object.members : []).map((m) => {
    const member = table.nexthops.find((n) => n.id === m.id);
    return member?.kind === "gateway" ? member.gateway : "?";
  });
}

describe("gateway health across a restart (start-health.ts)", () => {
  for (const [mode, settings] of [
    ["groups", DEFAULT_SETTINGS],
    ["multipath", MULTIPATH],
  ] as const) {
    it(`${mode}: a gateway the agent before had taken out stays out, not one op, until its first probe result`, () => {
      const kernel = leftBehind(settings, [egress([A, B])], [[B, false]]);
      let state = restart(settings, kernel, [egress([A, B])]);
      expect(plan(state)).toEqual([]);
      expect(via(state)).toEqual([A]);
      expect(state.presumedDown).toEqual({ [B]: true });

      state = probe(probe(state, A, true), B, false);
      expect(plan(state)).toEqual([]);
      expect(state.presumedDown).toEqual({});
    });

    it(`${mode}: its first probe result saying up puts it back at once`, () => {
      const kernel = leftBehind(settings, [egress([A, B])], [[B, false]]);
      const state = probe(restart(settings, kernel, [egress([A, B])]), B, true);
      expect(via(state)).toEqual([A, B]);
      expect(plan(state)).not.toEqual([]);
      expect(state.presumedDown).toEqual({});
    });
  }

  it("a restart onto an empty kernel counts every gateway as up at once", () => {
    const state = restart(DEFAULT_SETTINGS, emptySnapshot, [egress([A, B])]);
    expect(via(state)).toEqual([A, B]);
  });

  it("fail-static before the restart (every gateway down, all kept) presumes nothing", () => {
    const kernel = leftBehind(
      DEFAULT_SETTINGS,
      [egress([A, B])],
      [
        [A, false],
        [B, false],
      ],
    );
    const state = restart(DEFAULT_SETTINGS, kernel, [egress([A, B])]);
    expect(state.presumedDown).toEqual({});
    expect(via(state)).toEqual([A, B]);
    expect(plan(state)).toEqual([]);
  });

  it("routes before the kernel dump (the simulator's order) presume the same", () => {
    const kernel = leftBehind(DEFAULT_SETTINGS, [egress([A, B])], [[B, false]]);
    const state = restart(DEFAULT_SETTINGS, kernel, [egress([A, B])], ([dump, ...rest]) => [...rest, dump!]);
    expect(plan(state)).toEqual([]);
    expect(via(state)).toEqual([A]);
  });

  it("a rebuild before the first probe result (a relist) keeps the gateway out", () => {
    const kernel = leftBehind(DEFAULT_SETTINGS, [egress([A, B])], [[B, false]]);
    const state = reduce(
      restart(DEFAULT_SETTINGS, kernel, [egress([A, B])]),
      ev({ type: "route/resynced", routes: [egress([A, B])] }),
    );
    expect(plan(state)).toEqual([]);
    expect(via(state)).toEqual([A]);
  });

  it("once every source has synced, a gateway the Routes gain counts as up at once", () => {
    const kernel = leftBehind(DEFAULT_SETTINGS, [egress([A, B])], [[B, false]]);
    const state = reduce(
      restart(DEFAULT_SETTINGS, kernel, [egress([A, B])]),
      ev({ type: "route/upserted", route: egress([A, B, C]) }),
    );
    expect(via(state)).toEqual([A, C]);
  });

  it("a gateway dropped from the Routes drops its presumption: back later, it counts as up at once", () => {
    const kernel = leftBehind(DEFAULT_SETTINGS, [egress([A, B])], [[B, false]]);
    let state = restart(DEFAULT_SETTINGS, kernel, [egress([A, B])]);
    state = reduce(state, ev({ type: "route/upserted", route: egress([A]) }));
    expect(state.presumedDown).toEqual({});
    state = reduce(state, ev({ type: "route/upserted", route: egress([A, B]) }));
    expect(via(state)).toEqual([A, B]);
  });

  it("a route through a gateway its Route no longer names says nothing of the others", () => {
    // The Route moved from A and B (B down) to B and C while no agent ran.
    const kernel = leftBehind(DEFAULT_SETTINGS, [egress([A, B])], [[B, false]]);
    const state = restart(DEFAULT_SETTINGS, kernel, [egress([B, C])]);
    expect(state.presumedDown).toEqual({});
    expect(via(state)).toEqual([B, C]);
  });
});
