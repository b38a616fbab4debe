/**
 * The property kroute relies on for flow stability: when one of four gateways
 * leaves, hash-threshold moves flows of the surviving gateways too (their ranges of
 * the hash space shift), while a resilient group moves only the departed gateway's
 * flows; and bringing the gateway back under a long idle timer moves nothing until
 * the buckets have been idle that long.
 */
import type { FlowQuery, IpAddr, KernelNexthop, KernelRoute, Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { createFakeKernel, type FakeKernel } from "../src/index.ts";
import { BASELINE_HOST } from "./baseline-host.ts";

const GATEWAYS = ["10.10.0.2", "10.10.0.3", "10.10.0.4", "10.10.0.5"] as IpAddr[];
const FLOWS = 4000;
const IDLE_TIMER = 3600;

const flows: FlowQuery[] = Array.from({ length: FLOWS }, (_, i) => ({
  dst: `198.51.100.${1 + (i % 200)}` as IpAddr,
  src: `10.10.0.1` as IpAddr,
  ipProto: 6,
  sport: 10000 + i,
  dport: 443,
}));

const route: KernelRoute = {
  family: 4,
  table: 254,
  dst: "198.51.100.0/24" as Prefix,
  metric: 100,
  protocol: 250,
  scope: 0,
  target: { kind: "nexthop-object", id: 100 },
};

function group(memberIds: readonly number[], resilient: boolean): KernelNexthop {
  const members = memberIds.map((id) => ({ id, weight: 1 }));
  return resilient
    ? {
        kind: "group",
        id: 100,
        protocol: 250,
        members,
        groupType: "resilient",
        resilient: { buckets: 128, idleTimer: IDLE_TIMER, unbalancedTimer: 0 },
      }
    : { kind: "group", id: 100, protocol: 250, members, groupType: "mpath" };
}

function kernelWithGroup(resilient: boolean): FakeKernel {
  const kernel = createFakeKernel({ ...BASELINE_HOST, multipathHashPolicy: { 4: 1 } });
  const results = kernel.applySync([
    ...GATEWAYS.map((gateway, i): { object: "nexthop"; action: "add"; to: KernelNexthop } => ({
      object: "nexthop",
      action: "add",
      to: { kind: "gateway", id: i + 1, family: 4, protocol: 250, gateway, dev: "kr0" },
    })),
    { object: "nexthop", action: "add", to: group([1, 2, 3, 4], resilient) },
    { object: "route", action: "add", to: route },
  ]);
  expect(results.every((result) => result.ok)).toBe(true);
  return kernel;
}

function gatewaysOf(kernel: FakeKernel): string[] {
  return flows.map((flow) => {
    const result = kernel.lookupSync(flow);
    if (!result.ok || result.gateway === undefined)
      throw new Error(`lookup failed: ${JSON.stringify(result)}`);
    return result.gateway;
  });
}

function setMembers(kernel: FakeKernel, memberIds: readonly number[], resilient: boolean): void {
  const to = group(memberIds, resilient);
  const [result] = kernel.applySync([{ object: "nexthop", action: "replace", from: to, to }]);
  expect(result).toEqual({ ok: true });
}

function moved(before: readonly string[], after: readonly string[]): number[] {
  return before.flatMap((gateway, i) => (gateway !== after[i] ? [i] : []));
}

const departed = GATEWAYS[3];

describe("flow distribution over 4 gateways, 4,000 flows, one leaving", () => {
  it("spreads flows about evenly to begin with", () => {
    for (const resilient of [false, true]) {
      const counts = new Map<string, number>();
      for (const gateway of gatewaysOf(kernelWithGroup(resilient)))
        counts.set(gateway, (counts.get(gateway) ?? 0) + 1);
      expect([...counts.keys()].sort()).toEqual([...GATEWAYS].sort());
      for (const count of counts.values()) expect(Math.abs(count / FLOWS - 0.25)).toBeLessThan(0.05);
    }
  });

  it("hash-threshold moves more than the departed gateway's share", () => {
    const kernel = kernelWithGroup(false);
    const before = gatewaysOf(kernel);
    setMembers(kernel, [1, 2, 3], false);
    const after = gatewaysOf(kernel);
    const share = before.filter((gateway) => gateway === departed).length / FLOWS;
    const movedShare = moved(before, after).length / FLOWS;
    expect(after).not.toContain(departed);
    expect(movedShare).toBeGreaterThan(share + 0.05);
  });

  it("a legacy multipath route is hash-threshold too", () => {
    const kernel = createFakeKernel({ ...BASELINE_HOST, multipathHashPolicy: { 4: 1 } });
    const legacy = (gateways: readonly IpAddr[]): KernelRoute => ({
      ...route,
      target: { kind: "gateways", nexthops: gateways.map((gateway) => ({ gateway, dev: "kr0", weight: 1 })) },
    });
    expect(kernel.applySync([{ object: "route", action: "add", to: legacy(GATEWAYS) }])).toEqual([
      { ok: true },
    ]);
    const before = gatewaysOf(kernel);
    const to = legacy(GATEWAYS.slice(0, 3));
    expect(kernel.applySync([{ object: "route", action: "replace", from: to, to }])).toEqual([{ ok: true }]);
    const share = before.filter((gateway) => gateway === departed).length / FLOWS;
    expect(moved(before, gatewaysOf(kernel)).length / FLOWS).toBeGreaterThan(share + 0.05);
  });

  it("resilient moves exactly the departed gateway's flows (within 1 percentage point of its share)", () => {
    const kernel = kernelWithGroup(true);
    const before = gatewaysOf(kernel);
    setMembers(kernel, [1, 2, 3], true);
    const after = gatewaysOf(kernel);
    const movedFlows = moved(before, after);
    const share = before.filter((gateway) => gateway === departed).length / FLOWS;
    expect(Math.abs(movedFlows.length / FLOWS - share)).toBeLessThanOrEqual(0.01);
    expect(movedFlows.every((i) => before[i] === departed)).toBe(true);
    expect(after).not.toContain(departed);
  });

  it("resilient, re-adding the gateway under a long idle timer moves none until buckets go idle", () => {
    const kernel = kernelWithGroup(true);
    setMembers(kernel, [1, 2, 3], true);
    const withoutIt = gatewaysOf(kernel);
    setMembers(kernel, [1, 2, 3, 4], true);
    expect(moved(withoutIt, gatewaysOf(kernel))).toEqual([]);
    // Traffic keeps the buckets busy: short of the idle timer, still nothing moves.
    kernel.advanceClock(IDLE_TIMER - 1);
    expect(moved(withoutIt, gatewaysOf(kernel))).toEqual([]);
    // A quiet idle period later, the returning gateway takes back its share, and only that.
    kernel.advanceClock(IDLE_TIMER);
    const rebalanced = gatewaysOf(kernel);
    const back = rebalanced.filter((gateway) => gateway === departed).length / FLOWS;
    expect(Math.abs(back - 0.25)).toBeLessThan(0.05);
    expect(moved(withoutIt, rebalanced).every((i) => rebalanced[i] === departed)).toBe(true);
  });
});
