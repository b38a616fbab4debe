/**
 * Links going away under plain multipath routes (kernels without nexthop objects): the
 * core's view of its routes must follow what Linux does, part of it silently (see
 * link-events.ts), so that it repairs what can be repaired and asks nothing impossible.
 */
import { DEFAULT_SETTINGS } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { HostDescription } from "../src/index.ts";
import { reconciledNode } from "./reconciled-node.ts";

const SETTINGS = { ...DEFAULT_SETTINGS, nexthopMode: "multipath" as const };
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }, { name: "eth2" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "10.1.0.10", prefixLength: 24 },
    { dev: "eth2", ip: "10.2.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "fd01::10", prefixLength: 64 },
    { dev: "eth2", ip: "fd02::10", prefixLength: 64 },
  ],
} as unknown as HostDescription;
const ROUTES = [
  {
    metadata: { name: "v4", creationTimestamp: "2025-01-01T00:00:00Z" },
    spec: { destinations: ["10.9.0.0/16"], gateways: ["10.2.0.1"], probe: false },
  },
  {
    metadata: { name: "v4-both", creationTimestamp: "2025-01-01T00:00:00Z" },
    spec: { destinations: ["10.8.0.0/16"], gateways: ["10.1.0.1", "10.2.0.1"], probe: false },
  },
  {
    metadata: { name: "v6", creationTimestamp: "2025-01-01T00:00:00Z" },
    spec: { destinations: ["fd50::/48"], gateways: ["fd01::1", "fd02::1"], probe: false },
  },
];

const node = () => reconciledNode({ settings: SETTINGS, host: HOST, routes: ROUTES });

describe("plain multipath routes when a link goes away", () => {
  it("admin down drops IPv4 routes out of the link silently: the core sees it, and re-adds them when it is up", () => {
    const n = node();
    n.reconcile();
    expect(n.gateways("10.9.0.0/16")).toEqual(["10.2.0.1@eth2"]);
    n.kernel.setAdminUp("eth2", false);
    n.reconcile();
    expect(n.gateways("10.9.0.0/16")).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    n.kernel.setAdminUp("eth2", true);
    n.reconcile();
    expect(n.gateways("10.9.0.0/16")).toEqual(["10.2.0.1@eth2"]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.failures()).toEqual([]);
  });

  it("a deleted link takes every IPv4 route with a nexthop on it, silently, and IPv6 nexthops through it, announced", () => {
    const n = node();
    n.reconcile();
    expect(n.gateways("fd50::/48").sort()).toEqual(["fd01::1@eth1", "fd02::1@eth2"]);
    n.kernel.deleteLink("eth2");
    n.reconcile();
    // What remains on eth1 stays and is not fought over; the core's view is the kernel's.
    expect(n.gateways("fd50::/48")).toEqual(["fd01::1@eth1"]);
    expect(n.gateways("10.8.0.0/16")).toEqual(["10.1.0.1@eth1"]);
    expect(n.gateways("10.9.0.0/16")).toEqual([]);
    expect(n.viewedRoutes()).toEqual(n.kernelRoutes());
    expect(n.failures()).toEqual([]);
  });
});
