/**
 * A recorded restart whose start-up dump shows another program's route through kroute's
 * nexthop group (`ip route add 100.64.0.0/24 nhid N proto static`), the Route deleted
 * while the agent was down. The recording agent deletes only its route and keeps the
 * group and its members (core nexthop-users.ts): the replay must write the same, not
 * delete what the recording agent kept.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { EngineEvent, KernelRoute, Op } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { decode, replay } from "./helpers.ts";

const NODE = "worker-1";
const at = "2025-11-25T10:00:00.000Z";
const example = decode(
  readFileSync(fileURLToPath(new URL("../../../examples/sim/ecmp-failover.jsonl", import.meta.url)), "utf8"),
);
// The node, its host facts, the Route over 10.114.0.3 and .4 through a group, both up.
const converged = example.filter((event) => event.seq <= 5);
const [nodeObserved, hostObserved] = converged;
const before = replay(converged).results[0]?.snapshot;
if (before === undefined) throw new Error("the example replays to no kernel");
const group = before.nexthops.find((n) => n.protocol === 201 && n.kind === "group");
const ours = before.routes.find((r) => r.protocol === 201 && r.dst === "0.0.0.0/5");
if (group === undefined || ours === undefined) throw new Error("the example's Route has no group");

const theirs = {
  family: 4,
  table: 254,
  dst: "100.64.0.0/24",
  metric: 0,
  protocol: 4,
  scope: 0,
  target: { kind: "nexthop-object", id: group.id },
} as KernelRoute;
const routeDeleted: Op = { object: "route", action: "delete", from: ours };

/** The restarted agent's log: its dump with their route, no Route left, its route deleted. */
const restart = [
  nodeObserved,
  hostObserved,
  {
    v: 1,
    seq: 0,
    at,
    type: "kernel/observed",
    node: NODE,
    snapshot: { ...before, routes: [...before.routes, theirs] },
  },
  { v: 1, seq: 0, at, type: "route/resynced", routes: [] },
  {
    v: 1,
    seq: 0,
    at,
    type: "dataplane/applied",
    node: NODE,
    results: [{ op: routeDeleted, result: { ok: true } }],
  },
].map((event, i) => ({ ...event, seq: i + 1 })) as EngineEvent[];

describe("replay of a restart beside another program's route through kroute's group", () => {
  it("deletes only kroute's route, as the recording agent did, and keeps their route and the group", () => {
    const written: string[] = [];
    const { results, replayer } = replay(restart, {
      onStep: (_node, step) => {
        for (const { op } of step.results) written.push(`${op.object} ${op.action}`);
      },
    });
    expect(results[0]?.violations).toEqual([]);
    expect(written).toEqual(["route delete"]);
    const kernel = replayer.nodes.get(NODE)?.snapshot({});
    expect(kernel?.routes.filter((r) => r.dst === theirs.dst)).toEqual([theirs]);
    expect(kernel?.nexthops.map((n) => n.id).sort()).toEqual(
      before.nexthops
        .filter((n) => n.protocol === 201)
        .map((n) => n.id)
        .sort(),
    );
  });
});
