/**
 * Nexthop objects and groups (Linux 5.3+, resilient groups 5.13+): creation checks,
 * routes pointing at them, and the cascade when one is deleted.
 */
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { nexthopAdd, nexthopDelete, nexthopReplace, routeAdd } from "./ops.ts";
import {
  expectErrno,
  expectOk,
  gatewayNexthop,
  groupNexthop,
  nexthopRoute,
  ourNexthops,
  ourRoutes,
  sortRoutes,
} from "./support.ts";

const A = gatewayNexthop(1, "10.10.0.2", "kr0");
const B = gatewayNexthop(2, "10.11.0.2", "kr1");
const A6 = gatewayNexthop(6, "fd10::2", "kr0");
const B6 = gatewayNexthop(7, "fd11::2", "kr1");

export function nexthopConformance(harness: () => ConformanceHarness): void {
  describe("nexthop objects", () => {
    it("adds gateway nexthops of both families and dumps them back", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([nexthopAdd(A), nexthopAdd(B), nexthopAdd(A6)]));
      expect(await ourNexthops(h)).toEqual([A, B, A6]);
    });

    it("refuses an existing id with EEXIST; replace changes it", async () => {
      const h = harness();
      const moved = gatewayNexthop(1, "10.10.0.3", "kr0");
      expectOk(await h.dataplane.apply([nexthopAdd(A)]));
      const [again] = await h.dataplane.apply([nexthopAdd(moved)]);
      expectErrno(again, "EEXIST", "File exists");
      expectOk(await h.dataplane.apply([nexthopReplace(A, moved)]));
      expect(await ourNexthops(h)).toEqual([moved]);
    });

    it("validates before it looks at the id: a bad gateway under a taken id is not EEXIST", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([nexthopAdd(A)]));
      const [result] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(1, "10.99.0.2", "kr0"))]);
      expectErrno(result, "ENETUNREACH", "Nexthop has invalid gateway");
    });

    it("refuses a gateway that is not on-link through its device", async () => {
      const h = harness();
      const [offLink] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(1, "10.99.0.2", "kr0"))]);
      expectErrno(offLink, "ENETUNREACH", "Nexthop has invalid gateway");
      const [wrongDev] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(1, "10.10.0.2", "kr1"))]);
      expectErrno(wrongDev, "ENETUNREACH", "Nexthop has invalid gateway");
      const [offLink6] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(6, "fd99::2", "kr0"))]);
      expectErrno(offLink6, "EHOSTUNREACH", "No route to host");
      expect(await ourNexthops(h)).toEqual([]);
    });

    it("refuses a nexthop on a device without carrier", async () => {
      const h = harness();
      await h.host.setCarrier("kr1", false);
      const [result] = await h.dataplane.apply([nexthopAdd(B)]);
      expectErrno(result, "ENETDOWN", "Carrier for nexthop device is down");
    });

    it("checks the device's carrier before the gateway: an off-link gateway there is ENETDOWN too", async () => {
      const h = harness();
      await h.host.setCarrier("kr1", false);
      const [v4] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(2, "10.99.0.2", "kr1"))]);
      expectErrno(v4, "ENETDOWN", "Carrier for nexthop device is down");
      const [v6] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(7, "fd99::2", "kr1"))]);
      expectErrno(v6, "ENETDOWN", "Carrier for nexthop device is down");
    });

    it("adds hash-threshold and resilient groups, members sorted by id", async () => {
      const h = harness();
      const mpath = groupNexthop(100, [2, [1, 3]]);
      const resilient = groupNexthop(101, [1, 2], { buckets: 32, idleTimer: 120, unbalancedTimer: 0 });
      expectOk(
        await h.dataplane.apply([nexthopAdd(A), nexthopAdd(B), nexthopAdd(mpath), nexthopAdd(resilient)]),
      );
      expect(await ourNexthops(h)).toEqual([A, B, groupNexthop(100, [[1, 3], 2]), resilient]);
    });

    it("refuses groups of missing members or of groups", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([nexthopAdd(A)]));
      const [missing] = await h.dataplane.apply([nexthopAdd(groupNexthop(100, [1, 99]))]);
      expectErrno(missing, "EINVAL", "Invalid nexthop id");
      expectOk(await h.dataplane.apply([nexthopAdd(groupNexthop(100, [1]))]));
      const [nested] = await h.dataplane.apply([nexthopAdd(groupNexthop(101, [100]))]);
      expectErrno(nested, "EINVAL", "Hash-threshold group can not be a nexthop within a group");
    });

    it("refuses replacing across kinds, group types or bucket counts", async () => {
      const h = harness();
      const mpath = groupNexthop(100, [1, 2]);
      const resilient = groupNexthop(101, [1, 2], { buckets: 16, idleTimer: 0 });
      expectOk(
        await h.dataplane.apply([nexthopAdd(A), nexthopAdd(B), nexthopAdd(mpath), nexthopAdd(resilient)]),
      );
      const toResilient = groupNexthop(100, [1, 2], { buckets: 16, idleTimer: 0 });
      expectErrno(
        (await h.dataplane.apply([nexthopReplace(mpath, toResilient)]))[0],
        "EINVAL",
        "Can not replace a nexthop group with one of a different type",
      );
      expectErrno(
        (
          await h.dataplane.apply([
            nexthopReplace(resilient, groupNexthop(101, [1, 2], { buckets: 32, idleTimer: 0 })),
          ])
        )[0],
        "EINVAL",
        "Can not change number of buckets of a resilient nexthop group",
      );
      expectErrno(
        (await h.dataplane.apply([nexthopReplace(A, { ...groupNexthop(1, [2]) })]))[0],
        "EINVAL",
        "Can not replace a nexthop with a nexthop group",
      );
      expectErrno(
        (await h.dataplane.apply([nexthopReplace(mpath, gatewayNexthop(100, "10.10.0.3", "kr0"))]))[0],
        "EINVAL",
        "Can not replace a nexthop group with a nexthop",
      );
      // A resilient group may lose a member in place.
      const shrunk = groupNexthop(101, [1], { buckets: 16, idleTimer: 0 });
      expectOk(await h.dataplane.apply([nexthopReplace(resilient, shrunk)]));
      expect((await ourNexthops(h)).find((nexthop) => nexthop.id === 101)).toEqual(shrunk);
    });

    it("routes point at nexthop objects; a missing id is EINVAL", async () => {
      const h = harness();
      const group = groupNexthop(100, [1, 2]);
      const viaGroup = nexthopRoute("192.0.2.0/24", 100);
      const viaSingle = nexthopRoute("198.51.100.0/24", 1);
      const v6 = nexthopRoute("2001:db8:1::/64", 6);
      expectOk(
        await h.dataplane.apply([
          nexthopAdd(A),
          nexthopAdd(B),
          nexthopAdd(A6),
          nexthopAdd(group),
          routeAdd(viaGroup),
          routeAdd(viaSingle),
          routeAdd(v6),
        ]),
      );
      expect(await ourRoutes(h)).toEqual(sortRoutes([viaGroup, viaSingle, v6]));
      const [missing] = await h.dataplane.apply([routeAdd(nexthopRoute("203.0.113.0/24", 77))]);
      expectErrno(missing, "EINVAL", "Nexthop id does not exist");
    });

    it("refuses an IPv6 route through an IPv4 nexthop", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([nexthopAdd(A)]));
      const [result] = await h.dataplane.apply([routeAdd(nexthopRoute("2001:db8:5::/64", 1))]);
      expectErrno(result, "EINVAL", "IPv6 routes can not use an IPv4 nexthop");
    });

    it("a replace may change a nexthop's family, in a group too, unless an IPv6 route would use IPv4", async () => {
      const h = harness();
      const mixed = groupNexthop(101, [1, 6]);
      const v6Group = groupNexthop(100, [6, 7]);
      expectOk(
        await h.dataplane.apply([
          nexthopAdd(A),
          nexthopAdd(A6),
          nexthopAdd(B6),
          nexthopAdd(mixed),
          nexthopAdd(v6Group),
          routeAdd(nexthopRoute("2001:db8:1::/64", 100)),
          routeAdd(nexthopRoute("2001:db8:9::/64", 6)),
          routeAdd(nexthopRoute("198.51.100.0/24", 101)),
        ]),
      );
      // Id 1 is in a group an IPv4 route uses: it may become IPv6.
      const a1as6 = gatewayNexthop(1, "fd10::3", "kr0");
      expectOk(await h.dataplane.apply([nexthopReplace(A, a1as6)]));
      // Id 6 is used by IPv6 routes, directly and through group 100: it may not become IPv4,
      // nor may group 100 take an IPv4 member.
      const B4 = gatewayNexthop(2, "10.11.0.2", "kr1");
      expectOk(await h.dataplane.apply([nexthopAdd(B4)]));
      const [single] = await h.dataplane.apply([nexthopReplace(A6, gatewayNexthop(6, "10.10.0.3", "kr0"))]);
      expectErrno(single, "EINVAL", "IPv6 routes can not use an IPv4 nexthop");
      const [group] = await h.dataplane.apply([nexthopReplace(v6Group, groupNexthop(100, [2, 6]))]);
      expectErrno(group, "EINVAL", "IPv6 routes can not use an IPv4 nexthop");
      expect(await ourNexthops(h)).toEqual([a1as6, B4, A6, B6, v6Group, mixed]);
    });

    it("deleting a nexthop removes the routes using it and shrinks the groups holding it", async () => {
      const h = harness();
      const group = groupNexthop(100, [1, 2]);
      const onlyA = groupNexthop(101, [1]);
      const viaA = nexthopRoute("198.51.100.0/24", 1);
      const viaGroup = nexthopRoute("192.0.2.0/24", 100);
      const viaOnlyA = nexthopRoute("203.0.113.0/24", 101);
      const viaA6 = nexthopRoute("2001:db8:1::/64", 6);
      expectOk(
        await h.dataplane.apply([
          nexthopAdd(A),
          nexthopAdd(B),
          nexthopAdd(A6),
          nexthopAdd(group),
          nexthopAdd(onlyA),
          routeAdd(viaA),
          routeAdd(viaGroup),
          routeAdd(viaOnlyA),
          routeAdd(viaA6),
        ]),
      );
      expectOk(await h.dataplane.apply([nexthopDelete(A), nexthopDelete(A6)]));
      // The group left empty went with its route; the other group lost a member.
      expect(await ourNexthops(h)).toEqual([B, groupNexthop(100, [2])]);
      expect(await ourRoutes(h)).toEqual([viaGroup]);
    });

    it("deleting a missing nexthop is ENOENT", async () => {
      const h = harness();
      const [result] = await h.dataplane.apply([nexthopDelete(A)]);
      expectErrno(result, "ENOENT", "No such file or directory");
    });

    it("a resilient group of IPv6 gateways serves IPv6 routes", async () => {
      const h = harness();
      const group = groupNexthop(102, [6, 7], { buckets: 64, idleTimer: 60 });
      const route = nexthopRoute("2001:db8:9::/64", 102);
      expectOk(await h.dataplane.apply([nexthopAdd(A6), nexthopAdd(B6), nexthopAdd(group), routeAdd(route)]));
      expect(await ourRoutes(h, [6])).toEqual([route]);
    });
  });
}
