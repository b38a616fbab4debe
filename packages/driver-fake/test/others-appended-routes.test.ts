/**
 * Another program's route appended or prepended at kroute's key (`ip route append` or
 * `prepend`, announced without NLM_F_REPLACE): IPv4 keeps it as a second route beside
 * kroute's, so kroute's route is still there and its view must say so; IPv6 joins
 * its gateway to kroute's route through inline gateways, which kroute repairs.
 */
import { canonicalRoute, DEFAULT_SETTINGS, type IpAddr, type KernelRoute, type Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { HostDescription } from "../src/index.ts";
import { reconciledNode } from "./reconciled-node.ts";

const OTHER = 99;
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "10.1.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "fd01::10", prefixLength: 64 },
  ],
} as unknown as HostDescription;

const route = (destination: string, gateways: readonly string[]) => ({
  metadata: { name: "a", creationTimestamp: "2025-01-01T00:00:00Z" },
  spec: { destinations: [destination], gateways, probe: false },
});

/** Theirs at kroute's key (table, destination, metric), through `gateway` on eth1. */
const theirs = (family: 4 | 6, dst: string, gateway: string): KernelRoute => ({
  family,
  table: 254,
  dst: dst as Prefix,
  metric: DEFAULT_SETTINGS.metric,
  protocol: OTHER,
  scope: 0,
  target: { kind: "gateways", nexthops: [{ gateway: gateway as IpAddr, dev: "eth1", weight: 1 }] },
});

describe("another program's route appended or prepended at kroute's key", () => {
  for (const request of ["append", "prepend"] as const) {
    it(`IPv4 ${request}: kroute's route stays in its view, and nothing is redone`, () => {
      const dst = "10.9.0.0/16";
      const n = reconciledNode({
        settings: DEFAULT_SETTINGS,
        host: HOST,
        routes: [route(dst, ["10.1.0.1"])],
      });
      n.reconcile();
      const ours = n.kernelRoutes();
      expect(ours).toHaveLength(1);
      const other = theirs(4, dst, "10.1.0.9");
      expect(n.kernel.routeRequestSync(other, request)).toEqual({ ok: true });
      expect(n.nextPlan()).toEqual([]);
      n.reconcile();
      expect(n.viewedRoutes()).toEqual(ours);
      expect(n.kernelRoutes()).toEqual(ours);
      expect(n.refused).toEqual([]);
      expect(n.failures()).toEqual([]);
      expect(n.kernel.listSync({ protocols: [OTHER] }).routes).toEqual([other]);
    });
  }

  it("IPv6, kroute's route through a nexthop object: theirs stands beside it, and nothing is redone", () => {
    const dst = "2001:db8:9::/64";
    const n = reconciledNode({ settings: DEFAULT_SETTINGS, host: HOST, routes: [route(dst, ["fd01::1"])] });
    n.reconcile();
    const ours = n.kernelRoutes();
    const other = theirs(6, dst, "fd01::9");
    expect(n.kernel.routeRequestSync(other, "append")).toEqual({ ok: true });
    expect(n.nextPlan()).toEqual([]);
    n.reconcile();
    expect(n.viewedRoutes()).toEqual(ours);
    expect(n.refused).toEqual([]);
    expect(n.kernel.listSync({ protocols: [OTHER] }).routes).toEqual([other]);
  });

  it("IPv6, kroute's route through inline gateways: theirs joins it, and kroute puts its own back, without theirs", () => {
    const settings = { ...DEFAULT_SETTINGS, nexthopMode: "multipath" as const };
    const dst = "2001:db8:9::/64";
    const n = reconciledNode({ settings, host: HOST, routes: [route(dst, ["fd01::1"])] });
    n.reconcile();
    const ours = n.kernelRoutes();
    expect(n.kernel.routeRequestSync(theirs(6, dst, "fd01::9"), "append")).toEqual({ ok: true });
    // The kernel dumps one route of kroute's through both gateways: drift, repaired by a replace.
    expect(n.gateways(dst)).toEqual(["fd01::1@eth1", "fd01::9@eth1"]);
    expect(n.nextPlan()).toMatchObject([{ object: "route", action: "replace" }]);
    n.reconcile();
    expect(n.refused).toEqual([]);
    expect(n.failures()).toEqual([]);
    expect(n.gateways(dst)).toEqual(["fd01::1@eth1"]);
    expect(n.viewedRoutes()).toEqual(ours);
    expect(n.kernelRoutes()).toEqual(ours);
    expect(n.nextPlan()).toEqual([]);
  });

  it("IPv6, kroute's route through inline gateways: several gateways appended at once read as kroute's own route's, and go the same way", () => {
    const settings = { ...DEFAULT_SETTINGS, nexthopMode: "multipath" as const };
    const dst = "2001:db8:9::/64";
    const n = reconciledNode({ settings, host: HOST, routes: [route(dst, ["fd01::1"])] });
    n.reconcile();
    const ours = n.kernelRoutes();
    const hop = (gateway: string) => ({ gateway: gateway as IpAddr, dev: "eth1", weight: 1 });
    const at = (protocol: number, gateways: string[]): KernelRoute => ({
      ...theirs(6, dst, "fd01::9"),
      protocol,
      target: { kind: "gateways", nexthops: gateways.map(hop) },
    });
    expect(ours).toEqual([canonicalRoute(at(DEFAULT_SETTINGS.protocol, ["fd01::1"]))]);
    expect(n.kernel.routeRequestSync(at(OTHER, ["fd01::8", "fd01::9"]), "append")).toEqual({ ok: true });
    // Announced as the joined route under kroute's protocol, as Linux does: drift to repair.
    expect(n.nextPlan()).toMatchObject([{ object: "route", action: "replace" }]);
    expect(n.viewedRoutes()).toEqual([
      canonicalRoute(at(DEFAULT_SETTINGS.protocol, ["fd01::1", "fd01::8", "fd01::9"])),
    ]);
    n.reconcile();
    expect(n.refused).toEqual([]);
    expect(n.gateways(dst)).toEqual(["fd01::1@eth1"]);
    expect(n.kernel.listSync({ protocols: [OTHER] }).routes).toEqual([]);
    expect(n.nextPlan()).toEqual([]);
  });
});
