/**
 * The log of kroute's nexthops kept for another program's route: when one stops being
 * kept, the line says why, for the operator reading it beside `ip route`.
 */
import {
  emptyHashMap,
  emptyNexthopUsers,
  hmSet,
  type KernelNexthop,
  type KernelRoute,
  type NodeState,
  userAdded,
} from "@kroute/core";
import { expect, it } from "vitest";
import { keptNexthopsLog } from "../../src/runtime/kept-nexthops-log.ts";
import { capturedLog } from "./harness.ts";

const leaf: KernelNexthop = {
  kind: "gateway",
  id: 0x6b000001,
  family: 4,
  protocol: 201,
  gateway: "10.0.0.3",
  dev: "eth0",
} as KernelNexthop;
const theirs = {
  family: 4,
  table: 254,
  dst: "100.64.0.0/24",
  metric: 0,
  protocol: 4,
  scope: 0,
  target: { kind: "nexthop-object", id: leaf.id },
} as KernelRoute;
const nexthops = hmSet(emptyHashMap<KernelNexthop>(), String(leaf.id), leaf);
const users = userAdded(emptyNexthopUsers(), theirs, (r) =>
  r.target.kind === "nexthop-object" ? r.target.id : undefined,
);

const state = (desired: NodeState["derived"]["nexthops"]) =>
  ({ kernel: { nexthopUsers: users, nexthops }, derived: { nexthops: desired } }) as unknown as NodeState;

it("says a kept nexthop a Route needs again is kept for that Route, not that the other route left it", () => {
  const logs = capturedLog();
  const log = keptNexthopsLog(logs.logger);
  log(state(emptyHashMap()));
  expect(logs.lines().map((line) => line.msg)).toEqual([
    `keeping nexthop ${leaf.id}, which no Route needs: another program's route goes through it (route 100.64.0.0/24 table 254 protocol 4); deleting it would flush that route`,
  ]);
  log(state(nexthops));
  const [, needed] = logs.lines();
  expect(needed?.nexthop).toBe(leaf.id);
  expect(needed?.msg).toMatch(new RegExp(`^nexthop ${leaf.id} is needed by a Route again: `));
});
