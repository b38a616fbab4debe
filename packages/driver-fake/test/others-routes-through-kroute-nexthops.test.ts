/**
 * Another program's route through one of kroute's nexthop objects (`ip route add X nhid
 * N proto static`): the fake flushes it with the nexthop, as Linux does, and so the core
 * keeps the nexthop while the route is there (core nexthop-users.ts). The core and the
 * fake kernel reconciled as the agent does.
 */
import { DEFAULT_SETTINGS, type KernelRoute, type Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { HostDescription } from "../src/index.ts";
import { reconciledNode } from "./reconciled-node.ts";

const STATIC = 4;
const HOST = {
  links: [{ name: "eth0" }, { name: "eth1" }],
  addresses: [
    { dev: "eth0", ip: "10.0.0.10", prefixLength: 24 },
    { dev: "eth1", ip: "10.1.0.10", prefixLength: 24 },
  ],
} as unknown as HostDescription;
const RANGE = { base: DEFAULT_SETTINGS.nexthopIdBase, count: DEFAULT_SETTINGS.nexthopIdCount };

const pool = {
  metadata: { name: "pool", creationTimestamp: "2025-01-01T00:00:00Z" },
  spec: { destinations: ["10.9.0.0/16"], gateways: ["10.1.0.1", "10.1.0.2"], probe: false },
};

function theirs(id: number): KernelRoute {
  return {
    family: 4,
    table: 254,
    dst: "192.0.2.0/24" as Prefix,
    metric: 0,
    protocol: STATIC,
    scope: 0,
    target: { kind: "nexthop-object", id },
  };
}

function converged() {
  const n = reconciledNode({ settings: DEFAULT_SETTINGS, host: HOST, routes: [pool] });
  n.reconcile();
  const ours = n.kernel.listSync({ protocols: [DEFAULT_SETTINGS.protocol] });
  const group = ours.nexthops.find((x) => x.kind === "group");
  if (group?.kind !== "group") throw new Error("no group");
  const theirRoutes = () => n.kernel.listSync({}).routes.filter((r) => r.protocol === STATIC);
  const ourNexthops = () =>
    n.kernel
      .listSync({ protocols: [DEFAULT_SETTINGS.protocol] })
      .nexthops.map((x) => x.id)
      .sort();
  return { n, group, nexthops: ourNexthops(), theirRoutes, ourNexthops };
}

describe("another program's route through kroute's nexthop (fake kernel)", () => {
  it("is flushed with the nexthop, and with a group that loses its last member, without a notification", () => {
    const direct = converged();
    const [leaf] = direct.group.members;
    expect(
      direct.n.kernel.applySync([{ object: "route", action: "add", to: theirs(leaf?.id ?? 0) }]),
    ).toEqual([{ ok: true }]);
    const nexthop = direct.n.kernel.listSync({}).nexthops.find((x) => x.id === leaf?.id);
    if (nexthop === undefined) throw new Error("no leaf");
    expect(direct.n.kernel.applySync([{ object: "nexthop", action: "delete", from: nexthop }])).toEqual([
      { ok: true },
    ]);
    expect(direct.theirRoutes()).toEqual([]);

    const viaGroup = converged();
    viaGroup.n.kernel.applySync([{ object: "route", action: "add", to: theirs(viaGroup.group.id) }]);
    const leaves = viaGroup.n.kernel.listSync({}).nexthops.filter((x) => x.kind === "gateway");
    viaGroup.n.kernel.applySync(
      leaves.map((from) => ({ object: "nexthop" as const, action: "delete" as const, from })),
    );
    expect(viaGroup.theirRoutes()).toEqual([]);
  });

  it("is in a dump of kroute's protocol and id range, whatever its own protocol", () => {
    const { n, group } = converged();
    n.kernel.applySync([{ object: "route", action: "add", to: theirs(group.id) }]);
    const scoped = n.kernel.listSync({ protocols: [DEFAULT_SETTINGS.protocol], nexthopIds: RANGE });
    expect(scoped.routes.filter((r) => r.protocol === STATIC)).toEqual([theirs(group.id)]);
    expect(
      n.kernel.listSync({ protocols: [DEFAULT_SETTINGS.protocol] }).routes.map((r) => r.protocol),
    ).toEqual([DEFAULT_SETTINGS.protocol]);
  });

  it("keeps kroute's group and its members once the Route is gone, until the route is deleted", () => {
    const { n, group, nexthops, theirRoutes, ourNexthops } = converged();
    n.kernel.applySync([{ object: "route", action: "add", to: theirs(group.id) }]);
    n.resync([]);
    n.reconcile();
    expect(n.kernelRoutes()).toEqual([]);
    expect(theirRoutes()).toEqual([theirs(group.id)]);
    expect(ourNexthops()).toEqual(nexthops);
    expect(n.refused).toEqual([]);

    n.kernel.applySync([{ object: "route", action: "delete", from: theirs(group.id) }]);
    n.reconcile();
    expect(ourNexthops()).toEqual([]);
    expect(n.refused).toEqual([]);
  });
});
