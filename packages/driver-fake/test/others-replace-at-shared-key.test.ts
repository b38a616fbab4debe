/**
 * Another program's replace at a key where its own route leads kroute's (`ip route
 * prepend`, then `ip route change`/`replace`): Linux replaces the key's first route,
 * theirs, and kroute's stays; kroute's view must keep it, and nothing is redone.
 */
import {
  DEFAULT_SETTINGS,
  type IpAddr,
  type KernelNexthop,
  type KernelRoute,
  type Prefix,
} from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { HostDescription } from "../src/index.ts";
import { reconciledNode } from "./reconciled-node.ts";

const OTHER = 99;
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }],
  addresses: [{ dev: "eth1", ip: "10.1.0.10", prefixLength: 24 }],
} as unknown as HostDescription;

const DST = "10.9.0.0/16";

const theirs = (gateway: string): KernelRoute => ({
  family: 4,
  table: 254,
  dst: DST as Prefix,
  metric: DEFAULT_SETTINGS.metric,
  protocol: OTHER,
  scope: 0,
  target: { kind: "gateways", nexthops: [{ gateway: gateway as IpAddr, dev: "eth1", weight: 1 }] },
});

describe("another program's replace at kroute's key, its own route leading", () => {
  it("IPv4: their replace takes their route; kroute's stays in the kernel and in its view", () => {
    const n = reconciledNode({
      settings: DEFAULT_SETTINGS,
      host: HOST,
      routes: [
        {
          metadata: { name: "a", creationTimestamp: "2025-01-01T00:00:00Z" },
          spec: { destinations: [DST], gateways: ["10.1.0.1"], probe: false },
        },
      ],
    });
    n.reconcile();
    const ours = n.kernelRoutes();
    expect(ours).toHaveLength(1);
    expect(n.kernel.routeRequestSync(theirs("10.1.0.9"), "prepend")).toEqual({ ok: true });
    expect(n.kernel.routeRequestSync(theirs("10.1.0.8"), "change")).toEqual({ ok: true });
    expect(n.kernel.listSync({ protocols: [OTHER] }).routes).toEqual([theirs("10.1.0.8")]);
    expect(n.kernelRoutes()).toEqual(ours);
    expect(n.viewedRoutes()).toEqual(ours);
    expect(n.nextPlan()).toEqual([]);
    n.reconcile();
    expect(n.refused).toEqual([]);
    expect(n.failures()).toEqual([]);
  });

  it("IPv4: their route after kroute's, re-announced (flagged replaced) as its nexthop object is replaced, leaves kroute's in view", () => {
    const n = reconciledNode({
      settings: DEFAULT_SETTINGS,
      host: HOST,
      routes: [
        {
          metadata: { name: "a", creationTimestamp: "2025-01-01T00:00:00Z" },
          spec: { destinations: [DST], gateways: ["10.1.0.1"], probe: false },
        },
      ],
    });
    n.reconcile();
    const ours = n.kernelRoutes();
    const object = (gateway: string): KernelNexthop => ({
      kind: "gateway",
      id: 70,
      family: 4,
      protocol: OTHER,
      gateway: gateway as IpAddr,
      dev: "eth1",
    });
    expect(n.kernel.applySync([{ object: "nexthop", action: "add", to: object("10.1.0.7") }])).toEqual([
      { ok: true },
    ]);
    const viaObject: KernelRoute = { ...theirs("10.1.0.7"), target: { kind: "nexthop-object", id: 70 } };
    expect(n.kernel.routeRequestSync(viaObject, "append")).toEqual({ ok: true });
    expect(
      n.kernel.applySync([
        { object: "nexthop", action: "replace", from: object("10.1.0.7"), to: object("10.1.0.8") },
      ]),
    ).toEqual([{ ok: true }]);
    expect(n.kernelRoutes()).toEqual(ours);
    expect(n.nextPlan()).toEqual([]);
    expect(n.viewedRoutes()).toEqual(ours);
    n.reconcile();
    expect(n.refused).toEqual([]);
  });
});
