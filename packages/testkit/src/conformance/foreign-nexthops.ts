/**
 * Another program's device-only and fdb nexthops (kroute writes neither, but meets them
 * at ids of its range): dumped as opaque with their owner, a device-only one with its
 * device; the device-only ones go with their device, unannounced, as gateway nexthops
 * do, the fdb ones (a VXLAN's remotes, on no device) stay; and Linux keeps fdb nexthops
 * out of routes and out of routing groups, so kroute can never use one.
 */
import type { KernelChange, KernelNexthop } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { nexthopAdd, nexthopReplace, routeAdd } from "./ops.ts";
import {
  eventually,
  expectErrno,
  expectOk,
  gatewayNexthop,
  groupNexthop,
  nexthopRoute,
  notificationBarrier,
  OTHER_PROTO,
  recordChanges,
} from "./support.ts";

const device = (id: number, dev: string): KernelNexthop => ({
  kind: "opaque",
  id,
  protocol: OTHER_PROTO,
  type: "device",
  dev,
});
const fdb = (id: number): KernelNexthop => ({ kind: "opaque", id, protocol: OTHER_PROTO, type: "fdb" });
const theirs = (nexthop: KernelNexthop): KernelNexthop => ({ ...nexthop, protocol: OTHER_PROTO });
const fdbGroup = (id: number, members: readonly number[]): KernelNexthop => ({
  kind: "group",
  id,
  protocol: OTHER_PROTO,
  members: members.map((member) => ({ id: member, weight: 1 })),
  groupType: "mpath",
  fdb: true,
});

async function othersNexthops(h: ConformanceHarness): Promise<KernelNexthop[]> {
  return [...(await h.dataplane.list({ protocols: [OTHER_PROTO] })).nexthops];
}

/** Sets up one of each on kr1, and checks that the link event takes only the device-only ones. */
async function flushedWithTheLink(
  h: ConformanceHarness,
  event: (h: ConformanceHarness) => Promise<void>,
): Promise<void> {
  const onKr0 = device(42, "kr0");
  const gateway = theirs(gatewayNexthop(43, "10.10.0.2", "kr0"));
  expectOk(
    await h.dataplane.apply([
      nexthopAdd(device(41, "kr1")),
      nexthopAdd(onKr0),
      nexthopAdd(gateway),
      nexthopAdd(fdb(44)),
      nexthopAdd(fdbGroup(45, [44])),
      // Shrinks to its kr0 members when kr1's nexthop goes.
      nexthopAdd(theirs(groupNexthop(46, [41, 42, 43]))),
      // Goes with its only member.
      nexthopAdd(theirs(groupNexthop(47, [41]))),
    ]),
  );
  const recorder = recordChanges(h);
  await event(h);
  await eventually(() =>
    expect(recorder.changes.some((change) => change.kind === "link" && change.link.name === "kr1")).toBe(
      true,
    ),
  );
  await notificationBarrier(h, recorder.changes);
  recorder.stop();
  const isTheirs = (change: KernelChange) =>
    change.kind === "nexthop" && change.nexthop.protocol === OTHER_PROTO;
  expect(recorder.changes.filter(isTheirs)).toEqual([]);
  expect(await othersNexthops(h)).toEqual([
    onKr0,
    gateway,
    fdb(44),
    fdbGroup(45, [44]),
    theirs(groupNexthop(46, [42, 43])),
  ]);
}

export function foreignNexthopConformance(harness: () => ConformanceHarness): void {
  describe("others' device-only and fdb nexthops", () => {
    it("are dumped back as opaque with their owner, a device-only one with its device", async () => {
      const h = harness();
      expectOk(
        await h.dataplane.apply([
          nexthopAdd(device(41, "kr1")),
          nexthopAdd(fdb(44)),
          nexthopAdd(fdbGroup(45, [44])),
        ]),
      );
      expect(await othersNexthops(h)).toEqual([device(41, "kr1"), fdb(44), fdbGroup(45, [44])]);
    });

    it("a device-only nexthop needs its device, up and with carrier", async () => {
      const h = harness();
      const [none] = await h.dataplane.apply([
        nexthopAdd({ kind: "opaque", id: 41, protocol: OTHER_PROTO, type: "device" }),
      ]);
      expectErrno(none, "EINVAL", "Device attribute required for non-blackhole and non-fdb nexthops");
      await h.host.setCarrier("kr1", false);
      const [noCarrier] = await h.dataplane.apply([nexthopAdd(device(41, "kr1"))]);
      expectErrno(noCarrier, "ENETDOWN", "Carrier for nexthop device is down");
      await h.host.setAdminUp("kr1", false);
      const [down] = await h.dataplane.apply([nexthopAdd(device(41, "kr1"))]);
      expectErrno(down, "ENETDOWN", "Nexthop device is not up");
      expect(await othersNexthops(h)).toEqual([]);
    });

    it("carrier loss takes the device-only nexthops, unannounced; fdb ones stay", async () => {
      await flushedWithTheLink(harness(), (h) => h.host.setCarrier("kr1", false));
    });

    it("administrative down takes the device-only nexthops, unannounced; fdb ones stay", async () => {
      await flushedWithTheLink(harness(), (h) => h.host.setAdminUp("kr1", false));
    });

    it("deleting the link takes the device-only nexthops, unannounced; fdb ones stay", async () => {
      await flushedWithTheLink(harness(), (h) => h.host.deleteLink("kr1"));
    });

    it("a route cannot use an fdb nexthop or group, nor a routing group hold one", async () => {
      const h = harness();
      // All of one owner: Linux's own refusals, not the netlink driver's guard against
      // kroute using another's ids (nexthop-guard.ts).
      const gateway = theirs(gatewayNexthop(43, "10.10.0.2", "kr0"));
      expectOk(
        await h.dataplane.apply([nexthopAdd(fdb(44)), nexthopAdd(fdbGroup(45, [44])), nexthopAdd(gateway)]),
      );
      const spec = { protocol: OTHER_PROTO };
      const [route] = await h.dataplane.apply([routeAdd(nexthopRoute("198.51.100.0/24", 44, spec))]);
      expectErrno(route, "EINVAL", "Route cannot point to a fdb nexthop");
      const [viaGroup] = await h.dataplane.apply([routeAdd(nexthopRoute("198.51.100.0/24", 45, spec))]);
      expectErrno(viaGroup, "EINVAL", "Route cannot point to a fdb nexthop");
      // A routing group, as kroute makes them, with an fdb nexthop.
      const [mixed] = await h.dataplane.apply([nexthopAdd(theirs(groupNexthop(48, [43, 44])))]);
      expectErrno(mixed, "EINVAL", "Non FDB nexthop group cannot have fdb nexthops");
      const [fdbMixed] = await h.dataplane.apply([nexthopAdd(fdbGroup(49, [43, 44]))]);
      expectErrno(fdbMixed, "EINVAL", "FDB nexthop group can only have fdb nexthops");
    });

    it("an fdb nexthop in a group cannot become a routing one, nor the reverse", async () => {
      const h = harness();
      const gateway = theirs(gatewayNexthop(43, "10.10.0.2", "kr0"));
      expectOk(
        await h.dataplane.apply([
          nexthopAdd(fdb(44)),
          nexthopAdd(fdbGroup(45, [44])),
          nexthopAdd(gateway),
          nexthopAdd(theirs(groupNexthop(46, [43]))),
        ]),
      );
      const [toGateway] = await h.dataplane.apply([
        nexthopReplace(fdb(44), theirs(gatewayNexthop(44, "10.10.0.3", "kr0"))),
      ]);
      expectErrno(toGateway, "EINVAL", "Cannot change nexthop FDB status while in a group");
      const [toFdb] = await h.dataplane.apply([nexthopReplace(gateway, fdb(43))]);
      expectErrno(toFdb, "EINVAL", "Cannot change nexthop FDB status while in a group");
    });

    it("a device-only nexthop may stand in a routing group beside gateways, and a route may use it", async () => {
      const h = harness();
      expectOk(
        await h.dataplane.apply([
          nexthopAdd(device(41, "kr1")),
          nexthopAdd(theirs(gatewayNexthop(43, "10.10.0.2", "kr0"))),
          nexthopAdd(theirs(groupNexthop(46, [41, 43]))),
          routeAdd(nexthopRoute("198.51.100.0/24", 41, { protocol: OTHER_PROTO })),
          routeAdd(nexthopRoute("198.51.101.0/24", 46, { protocol: OTHER_PROTO })),
        ]),
      );
    });
  });
}
