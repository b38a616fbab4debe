/**
 * Another owner's nexthop at an id kroute writes (nexthop-guard.ts), and another owner's
 * route or group through kroute's nexthop (nexthop-users-guard.ts), on a real kernel in
 * a fresh network namespace: kroute neither overwrites theirs, nor routes through it,
 * nor flushes what uses its own.
 */
import type { IpAddr, KernelNexthop, KernelRoute, Op, Prefix } from "@kroute/core";
import type { Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createNetlinkDataplane, type NetlinkDataplane } from "../src/index.ts";
import { baselineNetns } from "./netns-host.ts";

const PROTO = 240;

function gateway(id: number, via: string): KernelNexthop {
  return { kind: "gateway", id, family: 4, protocol: PROTO, gateway: via as IpAddr, dev: "kr0" };
}

function routeThrough(id: number, dst: string): KernelRoute {
  return {
    family: 4,
    table: 254,
    dst: dst as Prefix,
    metric: 0,
    protocol: PROTO,
    scope: 0,
    target: { kind: "nexthop-object", id },
  };
}

const refusal = (id: number) => ({
  ok: false,
  errno: 17,
  code: "EEXIST",
  message: expect.stringContaining(`nexthop id ${id} holds a nexthop of protocol 4`),
});

describeAsRoot("netlink driver: others' nexthops at kroute's ids, and others' users of kroute's", () => {
  let ns: Netns;
  let dp: NetlinkDataplane;

  beforeAll(async () => {
    ({ ns } = await baselineNetns());
    await ns.ip("link", "set", "lo", "up");
    dp = await createNetlinkDataplane({ netns: ns.name });
  });
  afterAll(async () => {
    await dp?.close();
    await ns?.destroy();
  });

  it("routes nothing through another's blackhole at the id of a group it adds, and says whose it is", async () => {
    await ns.ip("nexthop", "add", "id", "501", "blackhole", "proto", "static");
    const ops: Op[] = [
      { object: "nexthop", action: "add", to: gateway(502, "10.10.0.2") },
      { object: "nexthop", action: "add", to: gateway(503, "10.10.0.3") },
      {
        object: "nexthop",
        action: "add",
        to: {
          kind: "group",
          id: 501,
          protocol: PROTO,
          groupType: "mpath",
          members: [
            { id: 502, weight: 1 },
            { id: 503, weight: 1 },
          ],
        },
      },
      { object: "route", action: "add", to: routeThrough(501, "100.64.1.0/24") },
    ];
    expect(await dp.apply(ops)).toEqual([{ ok: true }, { ok: true }, refusal(501), refusal(501)]);
    expect(await ns.ip("route", "show", "100.64.1.0/24")).toBe("");
    expect((await ns.ip("nexthop", "show", "id", "501")).trim()).toBe("id 501 blackhole proto static");
  });

  it("neither replaces another's nexthop at one of its ids nor puts it in a group", async () => {
    await ns.ip("nexthop", "add", "id", "511", "via", "10.10.0.4", "dev", "kr0", "proto", "static");
    const ops: Op[] = [
      {
        object: "nexthop",
        action: "replace",
        from: gateway(511, "10.10.0.2"),
        to: gateway(511, "10.10.0.2"),
      },
      {
        object: "nexthop",
        action: "add",
        to: {
          kind: "group",
          id: 512,
          protocol: PROTO,
          groupType: "mpath",
          members: [{ id: 511, weight: 1 }],
        },
      },
      { object: "route", action: "add", to: routeThrough(511, "100.64.2.0/24") },
    ];
    expect(await dp.apply(ops)).toEqual([refusal(511), refusal(511), refusal(511)]);
    expect((await ns.ip("nexthop", "show", "id", "511")).trim()).toBe(
      "id 511 via 10.10.0.4 dev kr0 scope link proto static",
    );
    expect(await ns.ip("nexthop", "show", "id", "512").catch(() => "absent")).toBe("absent");
    expect(await ns.ip("route", "show", "100.64.2.0/24")).toBe("");
  });

  it("does not delete another's nexthop that took the id of one it deletes", async () => {
    const ours = gateway(521, "10.10.0.2");
    expect(await dp.apply([{ object: "nexthop", action: "add", to: ours }])).toEqual([{ ok: true }]);
    // Taken after kroute planned the delete of its own object at that id.
    await ns.ip("nexthop", "replace", "id", "521", "blackhole", "proto", "static");

    expect(await dp.apply([{ object: "nexthop", action: "delete", from: ours }])).toEqual([refusal(521)]);
    expect((await ns.ip("nexthop", "show", "id", "521")).trim()).toBe("id 521 blackhole proto static");
  });

  it("keeps a nexthop it no longer needs while another's route or group uses it: deleting it would flush theirs", async () => {
    const ours = gateway(601, "10.10.0.2");
    expect(await dp.apply([{ object: "nexthop", action: "add", to: ours }])).toEqual([{ ok: true }]);
    await ns.ip("route", "add", "203.0.113.0/24", "nhid", "601", "proto", "static");
    await ns.ip("nexthop", "add", "id", "602", "group", "601", "proto", "static");

    const [refused] = await dp.apply([{ object: "nexthop", action: "delete", from: ours }]);
    expect(refused).toMatchObject({
      ok: false,
      code: "EBUSY",
      message:
        "nexthop id 601 is used by route 203.0.113.0/24 table 254 protocol 4, group 602 protocol 4: kroute keeps it rather than flush what others own",
    });
    expect(await ns.ip("route", "show", "203.0.113.0/24")).toContain("nhid 601");
    expect(await ns.ip("nexthop", "show", "id", "602")).toContain("group 601");

    // Once nobody else uses it, it goes.
    await ns.ip("route", "del", "203.0.113.0/24", "proto", "static");
    await ns.ip("nexthop", "del", "id", "602");
    expect(await dp.apply([{ object: "nexthop", action: "delete", from: ours }])).toEqual([{ ok: true }]);
    expect(await ns.ip("nexthop", "show")).not.toContain("id 601");
  });

  it("dumps another's route through a nexthop of its id range with its own routes, whatever the route's protocol", async () => {
    const ours = gateway(631, "10.10.0.2");
    expect(await dp.apply([{ object: "nexthop", action: "add", to: ours }])).toEqual([{ ok: true }]);
    expect(
      await dp.apply([{ object: "route", action: "add", to: routeThrough(631, "198.18.7.0/24") }]),
    ).toEqual([{ ok: true }]);
    await ns.ip("route", "add", "203.0.113.0/24", "nhid", "631", "proto", "static");
    await ns.ip("route", "add", "192.0.2.0/24", "via", "10.10.0.3", "proto", "static");
    try {
      const scoped = await dp.list({ protocols: [PROTO], nexthopIds: { base: 630, count: 10 } });
      expect(scoped.routes.map((r) => `${r.dst} ${r.protocol}`).sort()).toEqual([
        "198.18.7.0/24 240",
        "203.0.113.0/24 4",
      ]);
      const unranged = await dp.list({ protocols: [PROTO] });
      expect(unranged.routes.map((r) => `${r.dst} ${r.protocol}`)).toEqual(["198.18.7.0/24 240"]);
    } finally {
      await ns.ip("route", "del", "203.0.113.0/24", "proto", "static");
      await ns.ip("route", "del", "192.0.2.0/24", "proto", "static");
      await dp.apply([{ object: "route", action: "delete", from: routeThrough(631, "198.18.7.0/24") }]);
      await dp.apply([{ object: "nexthop", action: "delete", from: ours }]);
    }
  });

  it("deletes its old protocol's nexthop that the old protocol's route used until the batch moved it, beside a stale one of its own", async () => {
    // kroute hands over from protocol OLD (core owned.ts): its route moves onto a new
    // nexthop, and the old one goes in the same batch as a stale one of the new protocol.
    const OLD = 239;
    const old: KernelNexthop = { ...gateway(611, "10.10.0.2"), protocol: OLD };
    const stale = gateway(610, "10.10.0.3");
    const moved = gateway(615, "10.10.0.2");
    expect(await dp.apply([{ object: "nexthop", action: "add", to: stale }])).toEqual([{ ok: true }]);
    await ns.ip("nexthop", "add", "id", "611", "via", "10.10.0.2", "dev", "kr0", "proto", String(OLD));
    await ns.ip("route", "add", "198.18.0.0/24", "nhid", "611", "proto", String(OLD));
    const from: KernelRoute = { ...routeThrough(611, "198.18.0.0/24"), protocol: OLD };

    const results = await dp.apply([
      { object: "nexthop", action: "add", to: moved },
      { object: "route", action: "replace", from, to: routeThrough(615, "198.18.0.0/24") },
      { object: "nexthop", action: "delete", from: stale },
      { object: "nexthop", action: "delete", from: old },
    ]);
    expect(results).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: true }]);
    expect(await ns.ip("route", "show", "198.18.0.0/24")).toContain(`nhid 615`);
    expect(await ns.ip("nexthop", "show")).not.toMatch(/id 61[01] /);
  });
});
