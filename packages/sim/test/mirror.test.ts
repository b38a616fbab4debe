import type { IpAddr, KernelNexthop, KernelRoute, Op, Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { OwnedMirror } from "../src/mirror.ts";

const ip = (s: string) => s as IpAddr;
const leaf = (id: number, gateway: string): KernelNexthop => ({
  kind: "gateway",
  id,
  family: 4,
  protocol: 201,
  gateway: ip(gateway),
  dev: "eth1",
});
const group = (id: number, members: number[]): KernelNexthop => ({
  kind: "group",
  id,
  protocol: 201,
  members: members.map((m) => ({ id: m, weight: 1 })),
  groupType: "mpath",
});
const route = (dst: string, target: KernelRoute["target"]): KernelRoute => ({
  family: 4,
  table: 254,
  dst: dst as Prefix,
  metric: 50,
  protocol: 201,
  scope: 0,
  target,
});
const add = (to: KernelNexthop | KernelRoute): Op =>
  "dst" in to ? { object: "route", action: "add", to } : { object: "nexthop", action: "add", to };

describe("OwnedMirror", () => {
  it("finds routes through a gateway, one representative per shared nexthop, inline ones each", () => {
    const mirror = new OwnedMirror();
    for (const op of [
      add(leaf(1, "10.0.0.3")),
      add(leaf(2, "10.0.0.4")),
      add(group(10, [1, 2])),
      add(route("10.1.0.0/16", { kind: "nexthop-object", id: 10 })),
      add(route("10.2.0.0/16", { kind: "nexthop-object", id: 10 })),
      add(route("10.3.0.0/16", { kind: "nexthop-object", id: 2 })),
      add(
        route("10.4.0.0/16", {
          kind: "gateways",
          nexthops: [{ gateway: ip("10.0.0.4"), dev: "eth1", weight: 1 }],
        }),
      ),
    ])
      mirror.apply(op);
    const via4 = mirror
      .routesVia(ip("10.0.0.4"))
      .map(({ route: r, count }) => `${r.dst}×${count}`)
      .sort();
    expect(via4).toEqual(["10.1.0.0/16×2", "10.3.0.0/16×1", "10.4.0.0/16×1"]);
    expect(mirror.routesVia(ip("10.0.0.3")).map((x) => x.count)).toEqual([2]);
    expect(mirror.gatewaysOf(route("x", { kind: "nexthop-object", id: 10 }))).toEqual([
      "10.0.0.3",
      "10.0.0.4",
    ]);

    // The group loses 10.0.0.3: routes through the group are no longer "via" it.
    mirror.apply({ object: "nexthop", action: "replace", from: group(10, [1, 2]), to: group(10, [2]) });
    expect(mirror.routesVia(ip("10.0.0.3"))).toEqual([]);
    expect(
      mirror.gatewaysWritten({
        object: "nexthop",
        action: "replace",
        from: group(10, [1, 2]),
        to: group(10, [2]),
      }),
    ).toEqual(["10.0.0.4"]);

    // Kernel notifications keep it in step too: a deleted route leaves every index.
    mirror.applyChange({
      kind: "route",
      action: "del",
      route: route("10.4.0.0/16", { kind: "gateways", nexthops: [] }),
    });
    expect(
      mirror
        .routesVia(ip("10.0.0.4"))
        .map((x) => x.route.dst)
        .sort(),
    ).toEqual(["10.1.0.0/16", "10.3.0.0/16"]);
    expect(mirror.routes.size).toBe(3);
  });

  it("tracks default routes for the override checks", () => {
    const mirror = new OwnedMirror();
    const override = route("0.0.0.0/0", { kind: "nexthop-object", id: 1 });
    mirror.apply(add(override));
    expect([...mirror.defaultRoutes.values()]).toEqual([override]);
    mirror.apply({ object: "route", action: "delete", from: override });
    expect(mirror.defaultRoutes.size).toBe(0);
  });

  it("a re-announced route object changes nothing; a deleted one can come back, also as the same object", () => {
    const mirror = new OwnedMirror();
    const r = route("10.1.0.0/16", { kind: "nexthop-object", id: 1 });
    mirror.apply(add(leaf(1, "10.0.0.3")));
    mirror.apply(add(r));
    mirror.applyChange({ kind: "route", action: "new", route: r });
    expect(mirror.routesVia(ip("10.0.0.3")).map((x) => x.count)).toEqual([1]);
    mirror.applyChange({ kind: "route", action: "del", route: r });
    expect(mirror.routes.size).toBe(0);
    mirror.applyChange({ kind: "route", action: "new", route: r });
    expect([...mirror.routes.values()]).toEqual([r]);
    // Moved to another nexthop: a new object at the same key replaces the old one.
    const moved = route("10.1.0.0/16", { kind: "nexthop-object", id: 2 });
    mirror.apply(add(leaf(2, "10.0.0.4")));
    mirror.applyChange({ kind: "route", action: "new", route: moved });
    expect(mirror.routesVia(ip("10.0.0.3"))).toEqual([]);
    expect(mirror.routesVia(ip("10.0.0.4")).map((x) => x.route)).toEqual([moved]);
  });

  it("a deleted nexthop takes its routes, shrinks its groups, and a group left empty goes with its routes", () => {
    const mirror = new OwnedMirror();
    const viaLeaf = route("10.3.0.0/16", { kind: "nexthop-object", id: 1 });
    const viaPair = route("10.1.0.0/16", { kind: "nexthop-object", id: 10 });
    const viaSingle = route("10.2.0.0/16", { kind: "nexthop-object", id: 11 });
    for (const op of [
      add(leaf(1, "10.0.0.3")),
      add(leaf(2, "10.0.0.4")),
      add(group(10, [1, 2])),
      add(group(11, [1])),
      add(viaLeaf),
      add(viaPair),
      add(viaSingle),
    ])
      mirror.apply(op);
    // Linux announces only the nexthop's deletion (nexthop_compat_mode or not, IPv4 routes go silently).
    mirror.applyChange({ kind: "nexthop", action: "del", nexthop: leaf(1, "10.0.0.3") });
    expect([...mirror.routes.values()]).toEqual([viaPair]);
    expect([...mirror.nexthops.values()]).toEqual([leaf(2, "10.0.0.4"), group(10, [2])]);
    expect(mirror.routesVia(ip("10.0.0.3"))).toEqual([]);
    expect(mirror.routesVia(ip("10.0.0.4")).map((x) => x.route)).toEqual([viaPair]);
    mirror.apply({ object: "nexthop", action: "delete", from: leaf(2, "10.0.0.4") });
    expect(mirror.routes.size).toBe(0);
    expect(mirror.nexthops.size).toBe(0);
  });
});
