/**
 * Another program's IPv4 route with a TOS at kroute's key (table, destination, metric):
 * Linux keys routes by TOS too, so the two are different routes. kroute must write its
 * own beside it, change and delete its own without touching it, and never count it as
 * its own; the fake kernel must keep it across all of kroute's ops.
 */
import { DEFAULT_SETTINGS, type IpAddr, type KernelRoute, type Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { HostDescription } from "../src/index.ts";
import { reconciledNode } from "./reconciled-node.ts";

const OTHER = 99;
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "10.1.0.10", prefixLength: 24 },
  ],
} as unknown as HostDescription;
const DESTINATION = "10.9.0.0/16" as Prefix;

const route = (gateways: readonly string[]) => ({
  metadata: { name: "a", creationTimestamp: "2025-01-01T00:00:00Z" },
  spec: { destinations: [DESTINATION], gateways, probe: false },
});

/** Theirs, at kroute's key but for TOS 0x10 flows only. */
const THEIRS: KernelRoute = {
  family: 4,
  table: 254,
  dst: DESTINATION,
  metric: DEFAULT_SETTINGS.metric,
  tos: 0x10,
  protocol: OTHER,
  scope: 0,
  target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.1" as IpAddr, dev: "eth0", weight: 1 }] },
};

describe("another's route with a TOS at kroute's key", () => {
  it("stays while kroute adds, moves and deletes its own route beside it", () => {
    const n = reconciledNode({ settings: DEFAULT_SETTINGS, host: HOST, routes: [route(["10.1.0.1"])] });
    expect(n.kernel.applySync([{ object: "route", action: "add", to: THEIRS }])).toEqual([{ ok: true }]);
    const theirs = () => n.kernel.listSync({ protocols: [OTHER] }).routes;
    const expectConverged = () => {
      expect(n.refused).toEqual([]);
      expect(n.failures()).toEqual([]);
      expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    };

    n.reconcile();
    expectConverged();
    const [ours] = n.kernel.listSync({ protocols: [DEFAULT_SETTINGS.protocol] }).routes;
    expect(ours).toMatchObject({ table: THEIRS.table, dst: DESTINATION, metric: THEIRS.metric });
    expect(ours?.tos).toBeUndefined();
    expect(theirs()).toEqual([THEIRS]);
    // Flows of TOS 0x10 still take theirs; the rest take kroute's.
    expect(n.kernel.lookupSync({ dst: "10.9.1.1" as IpAddr, tos: 0x10 })).toMatchObject({
      gateway: "10.0.0.1",
    });
    expect(n.kernel.lookupSync({ dst: "10.9.1.1" as IpAddr })).toMatchObject({ gateway: "10.1.0.1" });

    n.resync([route(["10.1.0.1", "10.1.0.2"])]);
    n.reconcile();
    expectConverged();
    // Two gateways: kroute's route now goes through a group, at the same key.
    const [moved] = n.kernel.listSync({ protocols: [DEFAULT_SETTINGS.protocol] }).routes;
    expect(moved?.target).not.toEqual(ours?.target);
    expect(moved).toMatchObject({ table: THEIRS.table, dst: DESTINATION, metric: THEIRS.metric });
    expect(theirs()).toEqual([THEIRS]);

    n.resync([]);
    n.reconcile();
    expectConverged();
    expect(n.kernelRoutes()).toEqual([]);
    expect(theirs()).toEqual([THEIRS]);
  });

  it("a kernel notification of theirs leaves kroute's view of its own route alone", () => {
    const n = reconciledNode({ settings: DEFAULT_SETTINGS, host: HOST, routes: [route(["10.1.0.1"])] });
    n.reconcile();
    const before = n.viewedRoutes();
    expect(n.kernel.applySync([{ object: "route", action: "add", to: THEIRS }])).toEqual([{ ok: true }]);
    n.reconcile();
    expect(n.viewedRoutes()).toEqual(before);
    expect(n.refused).toEqual([]);
    // theirs deleted by its owner: kroute's own route is still there and still its.
    expect(n.kernel.applySync([{ object: "route", action: "delete", from: THEIRS }])).toEqual([{ ok: true }]);
    n.reconcile();
    expect(n.viewedRoutes()).toEqual(before);
    expect(n.kernelRoutes()).toEqual(before);
  });
});
