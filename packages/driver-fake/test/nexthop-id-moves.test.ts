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
    { dev: "eth1", ip: "203.0.113.10", prefixLength: 24 },
    { dev: "eth1", ip: "fd01::10", prefixLength: 64 },
    { dev: "eth1", ip: "2001:db8:1::10", prefixLength: 64 },
  ],
} as unknown as HostDescription;

const route = (name: string, destination: string, gateways: readonly string[]) => ({
  metadata: { name, creationTimestamp: "2025-01-01T00:00:00Z" },
  spec: { destinations: [destination], gateways, probe: false },
});

// Object keys as core/src/derive.ts and contribution.ts make them; each test checks the id moved.
const homeSlot = (key: string) => fnv1a(key) % SETTINGS.nexthopIdCount;
const gatewayKey = (gateway: string) => `gw|${gateway}|eth1`;
const groupKey = (family: number, gateways: readonly string[]) =>
  `${family}|0|${gateways.map((g) => `${g}@eth1`).join(",")}`;
const v4Candidates = Array.from({ length: 240 }, (_, i) => `10.1.0.${i + 11}`);

function scenario(v6Route: unknown, v4Route: unknown) {
  const n = reconciledNode({ settings: SETTINGS, host: HOST, routes: [v6Route] });
  n.reconcile();
  const nexthops = () => n.kernel.listSync({ protocols: [SETTINGS.protocol] }).nexthops;
  const before = nexthops();
  n.resync([v6Route, v4Route]);
  n.reconcile();
  return { n, before, after: nexthops() };
}

describe("nexthop ids laid out again", () => {
  it("an id passing from an IPv6 gateway to an IPv4 one is moved without a refusal", () => {
    const v6Gateway = "fd01::1";
    // An IPv4 gateway with the same home slot: its key sorts first, so it takes the slot.
    const v4Gateway = v4Candidates.find((g) => homeSlot(gatewayKey(g)) === homeSlot(gatewayKey(v6Gateway)));
    if (v4Gateway === undefined) throw new Error("no colliding IPv4 gateway among the candidates");
    const { n, before, after } = scenario(
      route("v6", "fd50::/48", [v6Gateway]),
      route("v4", "10.9.0.0/16", [v4Gateway]),
    );
    const idOf = (list: typeof after, gateway: string) =>
      list.find((nexthop) => nexthop.kind === "gateway" && nexthop.gateway === gateway)?.id;
    expect(idOf(after, v4Gateway)).toBe(idOf(before, v6Gateway));
    expect(n.refused).toEqual([]);
    expect(n.failures()).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.kernelRoutes()).toHaveLength(2);
  });

  it("an id passing from a group of IPv6 gateways to one of IPv4 gateways is moved without a refusal", () => {
    const v6Gateways = ["fd01::1", "fd01::2"];
    const v6Slot = homeSlot(groupKey(6, v6Gateways));
    const taken = new Set(v6Gateways.map((g) => homeSlot(gatewayKey(g))));
    const pairs = v4Candidates.flatMap((a, i) => v4Candidates.slice(i + 1, i + 40).map((b) => [a, b]));
    const v4Gateways = pairs.find(
      (pair) =>
        homeSlot(groupKey(4, pair)) === v6Slot && pair.every((g) => !taken.has(homeSlot(gatewayKey(g)))),
    );
    if (v4Gateways === undefined) throw new Error("no colliding IPv4 gateway pair among the candidates");
    const { n, before, after } = scenario(
      route("v6", "fd50::/48", v6Gateways),
      route("v4", "10.9.0.0/16", v4Gateways),
    );
    const groupOf = (list: typeof after, family: 4 | 6) =>
      list.find(
        (nexthop) =>
          nexthop.kind === "group" &&
          nexthop.members.every((m) => {
            const member = list.find((x) => x.id === m.id);
            return member?.kind === "gateway" && member.family === family;
          }),
      )?.id;
    expect(groupOf(after, 4)).toBe(groupOf(before, 6));
    expect(n.refused).toEqual([]);
    expect(n.failures()).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.kernelRoutes()).toHaveLength(2);
  });

  it("an IPv6 route deleted while an IPv4 gateway moves into its id: the route goes first", () => {
    // "gw|2001:…" sorts before "gw|203.…": the IPv6 gateway holds the shared home slot
    // until its Route goes, and the IPv4 gateway then moves into it.
    const v6Gateway = "2001:db8:1::1";
    const v4Gateway = Array.from({ length: 240 }, (_, i) => `203.0.113.${i + 11}`).find(
      (g) => homeSlot(gatewayKey(g)) === homeSlot(gatewayKey(v6Gateway)),
    );
    if (v4Gateway === undefined) throw new Error("no colliding IPv4 gateway among the candidates");
    const v4Route = route("v4", "10.9.0.0/16", [v4Gateway]);
    const n = reconciledNode({
      settings: SETTINGS,
      host: HOST,
      routes: [route("v6", "fd50::/48", [v6Gateway]), v4Route],
    });
    n.reconcile();
    const idOf = (gateway: string) =>
      n.kernel
        .listSync({ protocols: [SETTINGS.protocol] })
        .nexthops.find((nexthop) => nexthop.kind === "gateway" && nexthop.gateway === gateway)?.id;
    const v6Id = idOf(v6Gateway);
    expect(idOf(v4Gateway)).not.toBe(v6Id);

    n.resync([v4Route]);
    n.reconcile();

    expect(idOf(v4Gateway)).toBe(v6Id);
    expect(n.refused).toEqual([]);
    expect(n.failures()).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.kernelRoutes()).toHaveLength(1);
  });
});
