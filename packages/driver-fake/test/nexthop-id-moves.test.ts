/**
 * Nexthop ids are laid out again when keys collide (core/src/nexthop-ids.ts), so an id
 * can pass from an IPv6 gateway to an IPv4 one. Linux refuses that replace while an
 * IPv6 route still uses the id: the core must move the routes off it first.
 */
import { DEFAULT_SETTINGS, fnv1a } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { HostDescription } from "../src/index.ts";
import { reconciledNode } from "./reconciled-node.ts";

const SETTINGS = { ...DEFAULT_SETTINGS, nexthopIdCount: 64 };
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "10.1.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "fd01::10", prefixLength: 64 },
  ],
} as unknown as HostDescription;

const route = (name: string, destination: string, gateway: string) => ({
  metadata: { name, creationTimestamp: "2025-01-01T00:00:00Z" },
  spec: { destinations: [destination], gateways: [gateway], probe: false },
});

const homeSlot = (gateway: string, dev: string) => fnv1a(`gw|${gateway}|${dev}`) % SETTINGS.nexthopIdCount;

describe("nexthop ids laid out again", () => {
  it("an id passing from an IPv6 gateway to an IPv4 one is moved without a refusal", () => {
    const v6Gateway = "fd01::1";
    // An IPv4 gateway with the same home slot: its key sorts first, so it takes the slot.
    const v4Gateway = Array.from({ length: 240 }, (_, i) => `10.1.0.${i + 11}`).find(
      (gateway) => homeSlot(gateway, "eth1") === homeSlot(v6Gateway, "eth1"),
    );
    expect(v4Gateway).toBeDefined();
    const v6Route = route("v6", "fd50::/48", v6Gateway);
    const n = reconciledNode({ settings: SETTINGS, host: HOST, routes: [v6Route] });
    n.reconcile();
    const idOf = (gateway: string) =>
      n.kernel
        .listSync({ protocol: SETTINGS.protocol })
        .nexthops.find((nexthop) => nexthop.kind === "gateway" && nexthop.gateway === gateway)?.id;
    const firstV6Id = idOf(v6Gateway);

    n.resync([v6Route, route("v4", "10.9.0.0/16", v4Gateway ?? "")]);
    n.reconcile();

    expect(idOf(v4Gateway ?? "")).toBe(firstV6Id);
    expect(idOf(v6Gateway)).not.toBe(firstV6Id);
    expect(n.refused).toEqual([]);
    expect(n.failures()).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.kernelRoutes()).toHaveLength(2);
  });
});
