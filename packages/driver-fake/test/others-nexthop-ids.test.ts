/**
 * Another program's nexthop at an id of kroute's range (core nexthop-ids.ts skips them):
 * the core and the fake kernel reconciled as the agent does, the other's object put in
 * or swapped in by plain ops under its own protocol.
 */
import { DEFAULT_SETTINGS, fnv1a, type KernelNexthop } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { HostDescription } from "../src/index.ts";
import { reconciledNode } from "./reconciled-node.ts";

const SETTINGS = { ...DEFAULT_SETTINGS, nexthopIdCount: 64 };
const OTHER = 99;
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "10.1.0.10", prefixLength: 24 },
  ],
} as unknown as HostDescription;

const route = (name: string, destination: string, gateways: readonly string[]) => ({
  metadata: { name, creationTimestamp: "2025-01-01T00:00:00Z" },
  spec: { destinations: [destination], gateways, probe: false },
});

const blackhole = (id: number): KernelNexthop => ({ kind: "opaque", id, protocol: OTHER, type: "blackhole" });
const homeId = (key: string) => SETTINGS.nexthopIdBase + (fnv1a(key) % SETTINGS.nexthopIdCount);
/** The id linear probing tries after `id`. */
const nextId = (id: number) =>
  SETTINGS.nexthopIdBase + ((id - SETTINGS.nexthopIdBase + 1) % SETTINGS.nexthopIdCount);

function node(routes: readonly unknown[]) {
  const n = reconciledNode({ settings: SETTINGS, host: HOST, routes });
  const all = () => n.kernel.listSync({}).nexthops;
  const ours = () => n.kernel.listSync({ protocols: [SETTINGS.protocol] });
  /** The nexthop id kroute's route to `dst` goes through. */
  const nhid = (dst: string) => {
    const target = ours().routes.find((r) => r.dst === dst)?.target;
    return target?.kind === "nexthop-object" ? target.id : undefined;
  };
  return { n, all, ours, nhid };
}

function expectConverged(n: ReturnType<typeof reconciledNode>): void {
  expect(n.refused).toEqual([]);
  expect(n.failures()).toEqual([]);
  expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
}

describe("another's nexthops at ids of kroute's range", () => {
  it("a blackhole at the id a gateway would take: the gateway goes to the next id and its route through it", () => {
    const { n, all, nhid } = node([route("a", "10.9.0.0/16", ["10.1.0.1"])]);
    const home = homeId("gw|10.1.0.1|eth1");
    expect(n.kernel.applySync([{ object: "nexthop", action: "add", to: blackhole(home) }])).toEqual([
      { ok: true },
    ]);
    n.reconcile();
    expect(nhid("10.9.0.0/16")).toBe(nextId(home));
    expect(all().find((x) => x.id === home)).toEqual(blackhole(home));
    expect(n.kernelRoutes()).toHaveLength(1);
    expectConverged(n);
  });

  it("a blackhole that replaced kroute's gateway object: the gateway moves and its route with it, theirs stays", () => {
    const { n, all, ours, nhid } = node([route("a", "10.9.0.0/16", ["10.1.0.1"])]);
    n.reconcile();
    const was = nhid("10.9.0.0/16") as number;
    const [mine] = ours().nexthops;
    expect(
      n.kernel.applySync([
        { object: "nexthop", action: "replace", from: mine as KernelNexthop, to: blackhole(was) },
      ]),
    ).toEqual([{ ok: true }]);
    n.reconcile();
    expect(nhid("10.9.0.0/16")).not.toBe(was);
    expect(nhid("10.9.0.0/16")).toBeDefined();
    expect(all().find((x) => x.id === was)).toEqual(blackhole(was));
    expectConverged(n);
  });

  it("a blackhole at the id of kroute's group, after they deleted the group: the group moves, its routes come back through it", () => {
    const { n, all, ours, nhid } = node([route("a", "10.9.0.0/16", ["10.1.0.1", "10.1.0.2"])]);
    n.reconcile();
    const groupId = nhid("10.9.0.0/16") as number;
    const group = ours().nexthops.find((x) => x.id === groupId) as KernelNexthop;
    expect(
      n.kernel.applySync([
        { object: "nexthop", action: "delete", from: group },
        { object: "nexthop", action: "add", to: blackhole(groupId) },
      ]),
    ).toEqual([{ ok: true }, { ok: true }]);
    n.reconcile();
    const moved = nhid("10.9.0.0/16");
    expect(moved).toBeDefined();
    expect(moved).not.toBe(groupId);
    expect(ours().nexthops.find((x) => x.id === moved)?.kind).toBe("group");
    expect(all().find((x) => x.id === groupId)).toEqual(blackhole(groupId));
    expectConverged(n);
  });

  it("an id given back: kroute's object moves home again", () => {
    const { n, nhid } = node([route("a", "10.9.0.0/16", ["10.1.0.1"])]);
    const home = homeId("gw|10.1.0.1|eth1");
    n.kernel.applySync([{ object: "nexthop", action: "add", to: blackhole(home) }]);
    n.reconcile();
    n.kernel.applySync([{ object: "nexthop", action: "delete", from: blackhole(home) }]);
    n.reconcile();
    expect(nhid("10.9.0.0/16")).toBe(home);
    expectConverged(n);
  });
});
