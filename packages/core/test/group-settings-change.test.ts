/**
 * An agent whose groups are of another type or bucket count than the old agent's
 * (--resilient-buckets changed between runs). Linux replaces neither in place, and
 * deleting a group flushes every route through it: the plan, op by op, never leaves a
 * route without its nexthops, and converges to the table a fresh agent would write.
 */
import { describe, expect, it } from "vitest";
import { hmGet, hmKeys } from "../src/hashmap.ts";
import type { KernelRoute, Op } from "../src/kernel.ts";
import { applyOp, ownedObjects } from "../src/owned.ts";
import { plan } from "../src/plan.ts";
import { reduce } from "../src/reducer.ts";
import { DEFAULT_SETTINGS, type EngineSettings } from "../src/settings.ts";
import { initialNodeState, type NodeState, type OwnedKernelState } from "../src/state.ts";
import { emptySnapshot, ev, hostFacts, NODE, route } from "./fixtures.ts";

const ROUTES = [
  route("pool", { destinations: ["10.9.0.0/16", "10.10.0.0/16"], gateways: ["10.114.0.3", "10.114.0.4"] }),
  route("v6", { destinations: ["fd50::/48"], gateways: ["fd00::1", "fd00::2"] }),
];

const BUCKETS: Record<string, EngineSettings> = {
  "128 buckets": DEFAULT_SETTINGS,
  "64 buckets": { ...DEFAULT_SETTINGS, resilient: { buckets: 64, idleTimer: 120, unbalancedTimer: 0 } },
  "hash-threshold": (({ resilient: _, ...rest }) => rest)(DEFAULT_SETTINGS),
};

function applied(state: NodeState, ops: readonly Op[]): NodeState {
  const results = ops.map((op) => ({ op, result: { ok: true as const } }));
  return reduce(state, ev({ type: "dataplane/applied", node: NODE, results }));
}

/** Plans until nothing is left, each op accepted; the ops in order. */
function converge(start: NodeState): { state: NodeState; ops: Op[] } {
  let state = start;
  const all: Op[] = [];
  for (let round = 0; round < 12; round++) {
    const ops = plan(state);
    if (ops.length === 0) return { state, ops: all };
    all.push(...ops);
    state = applied(state, ops);
  }
  throw new Error(`no convergence; still planned: ${JSON.stringify(plan(state))}`);
}

function started(settings: EngineSettings, kernel: NodeState["kernel"] | undefined): NodeState {
  const snapshot = kernel === undefined ? emptySnapshot : { ...emptySnapshot, ...ownedObjects(kernel) };
  return [
    ev({ type: "kernel/observed", node: NODE, snapshot }),
    ev({ type: "node/observed", node: NODE, labels: {} }),
    ev(hostFacts()),
    ev({ type: "route/resynced", routes: ROUTES }),
  ].reduce(reduce, initialNodeState(NODE, settings));
}

/** Routes whose nexthop object, or some member of its group, is in the model. */
function routed(kernel: OwnedKernelState): string[] {
  return [...hmKeys(kernel.routes)].filter((key) => {
    const target = (hmGet(kernel.routes, key) as KernelRoute).target;
    if (target.kind !== "nexthop-object") return true;
    const nexthop = hmGet(kernel.nexthops, String(target.id));
    return nexthop !== undefined && (nexthop.kind !== "group" || nexthop.members.length > 0);
  });
}

describe("groups of other settings than the agent's (--resilient-buckets changed)", () => {
  for (const [from, oldSettings] of Object.entries(BUCKETS)) {
    for (const [to, newSettings] of Object.entries(BUCKETS)) {
      if (from === to) continue;
      it(`from ${from} to ${to}: every route keeps its way, and the table is a fresh agent's`, () => {
        const old = converge(started(oldSettings, undefined)).state;
        const start = started(newSettings, old.kernel);
        const before = routed(start.kernel);
        expect(before).toHaveLength(3);
        const first = converge(start);
        // The old groups' deletes free their ids; the kernel's echo of them (here a resync's
        // dump) lets the routes move home.
        const dumped = { ...emptySnapshot, ...ownedObjects(first.state.kernel) };
        const second = converge(
          reduce(first.state, ev({ type: "kernel/observed", node: NODE, snapshot: dumped })),
        );
        let model = start.kernel;
        for (const op of [...first.ops, ...second.ops]) {
          model = applyOp(model, op);
          expect(routed(model), `after ${op.action} ${op.object}`).toEqual(expect.arrayContaining(before));
        }
        const state = second.state;
        const fresh = converge(started(newSettings, undefined)).state;
        expect(ownedObjects(state.kernel)).toEqual(ownedObjects(fresh.kernel));
      });
    }
  }
});
