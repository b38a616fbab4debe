/**
 * Which gateways Linux takes, beyond "on-link through the named device" (each case
 * checked with `ip` in a scratch namespace on 6.18): the node's own addresses, IPv6
 * link-local gateways, and which route the on-link check consults. IPv4 and IPv6
 * differ in each.
 */
import type { KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { nexthopAdd, nexthopDelete, nexthopReplace, routeAdd, routeDelete, routeReplace } from "./ops.ts";
import {
  canonicalRoute,
  expectErrno,
  expectOk,
  gatewayNexthop,
  groupNexthop,
  ip,
  MAIN,
  nexthopRoute,
  ourNexthops,
  ourRoutes,
  PROTO,
  prefix,
  sortRoutes,
  TABLE,
  viaRoute,
} from "./support.ts";

const LOCAL_GATEWAY = "Gateway can not be a local address";

/** A route straight out of a device, without a gateway; IPv4 ones name their scope. */
function deviceRoute(
  dst: string,
  dev: string,
  spec: { table?: number; metric?: number; scope?: number } = {},
) {
  return {
    family: dst.includes(":") ? 6 : 4,
    table: spec.table ?? MAIN,
    dst: prefix(dst),
    metric: spec.metric ?? 100,
    protocol: PROTO,
    scope: spec.scope ?? 0,
    target: { kind: "device", dev },
  } as const satisfies KernelRoute;
}

export function gatewayConformance(harness: () => ConformanceHarness): void {
  describe("gateways that are the node's own addresses", () => {
    it("IPv6 refuses one, on any device, before it checks the gateway is on-link", async () => {
      const h = harness();
      const [ownOnDevice] = await h.dataplane.apply([
        routeAdd(viaRoute("2001:db8:1::/64", [["fd10::1", "kr0"]])),
      ]);
      expectErrno(ownOnDevice, "EINVAL", LOCAL_GATEWAY);
      // fd11::1 is kr1's, and not on-link through kr0 either: the local check speaks first.
      const [ownOnOther] = await h.dataplane.apply([
        routeAdd(viaRoute("2001:db8:1::/64", [["fd11::1", "kr0"]])),
      ]);
      expectErrno(ownOnOther, "EINVAL", LOCAL_GATEWAY);
      const [nexthop] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(6, "fd10::1", "kr0"))]);
      expectErrno(nexthop, "EINVAL", LOCAL_GATEWAY);
      expect(await ourNexthops(h)).toEqual([]);
    });

    it("IPv6 refuses a multipath route with one own address among its gateways, and a replace to one", async () => {
      const h = harness();
      const multipath = viaRoute("2001:db8:2::/64", [
        ["fd11::2", "kr1"],
        ["fd10::1", "kr0"],
      ]);
      expectErrno((await h.dataplane.apply([routeAdd(multipath)]))[0], "EINVAL", LOCAL_GATEWAY);
      const route = viaRoute("2001:db8:3::/64", [["fd10::2", "kr0"]]);
      expectOk(await h.dataplane.apply([routeAdd(route)]));
      const [replaced] = await h.dataplane.apply([
        routeReplace(route, viaRoute("2001:db8:3::/64", [["fd10::1", "kr0"]])),
      ]);
      expectErrno(replaced, "EINVAL", LOCAL_GATEWAY);
      expect(await ourRoutes(h, [6])).toEqual([route]);
    });

    it("IPv6 refuses a gateway as soon as the node takes its address, in a subnet it already had", async () => {
      const h = harness();
      const route = viaRoute("2001:db8:1::/64", [["fd10::9", "kr0"]]);
      expectOk(await h.dataplane.apply([routeAdd(route), routeDelete(route)]));
      // Same subnet as fd10::1/64: no new connected route, only the address.
      await h.host.addAddress("kr0", ip("fd10::9"), 64);
      expectErrno((await h.dataplane.apply([routeAdd(route)]))[0], "EINVAL", LOCAL_GATEWAY);
    });

    it("IPv4 takes one through the device holding it, for a route and a nexthop object", async () => {
      const h = harness();
      const single = viaRoute("192.0.2.0/24", [["10.10.0.1", "kr0"]]);
      const multipath = viaRoute("198.51.100.0/24", [
        ["10.10.0.2", "kr0"],
        ["10.10.0.1", "kr0"],
      ]);
      const nexthop = gatewayNexthop(1, "10.10.0.1", "kr0");
      expectOk(await h.dataplane.apply([routeAdd(single), routeAdd(multipath), nexthopAdd(nexthop)]));
      expect(await ourRoutes(h, [4])).toEqual(sortRoutes([single, canonicalRoute(multipath)]));
      expect(await ourNexthops(h)).toEqual([nexthop]);
      // kr1's address is not on-link through kr0.
      const [otherDevice] = await h.dataplane.apply([
        routeAdd(viaRoute("203.0.113.0/24", [["10.11.0.1", "kr0"]])),
      ]);
      expectErrno(otherDevice, "ENETUNREACH", "Nexthop has invalid gateway");
    });
  });

  describe("IPv6 link-local gateways", () => {
    it("are taken through any device that is up, with no route containing them", async () => {
      const h = harness();
      // febf::1 is link-local (fe80::/10) but outside the fe80::/64 a real link has a route for.
      const route = viaRoute("2001:db8:1::/64", [["fe80::1", "kr0"]]);
      const outside = viaRoute("2001:db8:2::/64", [["febf::1", "kr1"]]);
      const nexthop = gatewayNexthop(6, "febf::1", "kr0");
      expectOk(await h.dataplane.apply([routeAdd(route), routeAdd(outside), nexthopAdd(nexthop)]));
      expect(await ourRoutes(h, [6])).toEqual([route, outside]);
      expect(await ourNexthops(h)).toEqual([nexthop]);
    });

    it("a device without carrier takes a route, not a nexthop object; a device that is down neither", async () => {
      const h = harness();
      await h.host.setCarrier("kr1", false);
      expectOk(await h.dataplane.apply([routeAdd(viaRoute("2001:db8:1::/64", [["fe80::1", "kr1"]]))]));
      const [carrierless] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(7, "fe80::1", "kr1"))]);
      expectErrno(carrierless, "ENETDOWN", "Carrier for nexthop device is down");
      await h.host.setAdminUp("kr1", false);
      const [route] = await h.dataplane.apply([routeAdd(viaRoute("2001:db8:2::/64", [["fe80::1", "kr1"]]))]);
      expectErrno(route, "ENETDOWN", "Nexthop device is not up");
      const [down] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(7, "fe80::1", "kr1"))]);
      expectErrno(down, "ENETDOWN", "Nexthop device is not up");
    });

    it("one of the node's own is refused only through the device holding it", async () => {
      const h = harness();
      await h.host.addAddress("kr0", ip("fe80::99"), 64);
      const [own] = await h.dataplane.apply([routeAdd(viaRoute("2001:db8:1::/64", [["fe80::99", "kr0"]]))]);
      expectErrno(own, "EINVAL", LOCAL_GATEWAY);
      const [ownNexthop] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(6, "fe80::99", "kr0"))]);
      expectErrno(ownNexthop, "EINVAL", LOCAL_GATEWAY);
      const elsewhere = viaRoute("2001:db8:1::/64", [["fe80::99", "kr1"]]);
      expectOk(await h.dataplane.apply([routeAdd(elsewhere)]));
      expect(await ourRoutes(h, [6])).toEqual([elsewhere]);
    });
  });

  describe("the on-link check's route", () => {
    it("IPv6: the longest match out of the device must have no gateway", async () => {
      const h = harness();
      const covering = viaRoute("fd10::2/128", [["fd10::3", "kr0"]], { table: MAIN });
      const viaObject = nexthopRoute("fd10::4/128", 7, { table: MAIN });
      expectOk(
        await h.dataplane.apply([
          routeAdd(covering),
          nexthopAdd(gatewayNexthop(7, "fd10::3", "kr0")),
          routeAdd(viaObject),
        ]),
      );
      for (const gateway of ["fd10::2", "fd10::4"]) {
        const [route] = await h.dataplane.apply([routeAdd(viaRoute("2001:db8:1::/64", [[gateway, "kr0"]]))]);
        expectErrno(route, "EHOSTUNREACH", "No route to host");
        const [inMain] = await h.dataplane.apply([
          routeAdd(viaRoute("2001:db8:1::/64", [[gateway, "kr0"]], { table: MAIN })),
        ]);
        expectErrno(inMain, "EHOSTUNREACH", "No route to host");
        const [nexthop] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(8, gateway, "kr0"))]);
        expectErrno(nexthop, "EHOSTUNREACH", "No route to host");
      }
      expectOk(await h.dataplane.apply([routeAdd(viaRoute("2001:db8:1::/64", [["fd10::5", "kr0"]]))]));
    });

    it("IPv6: the answer follows later route and nexthop changes", async () => {
      const h = harness();
      const probe = viaRoute("2001:db8:1::/64", [["fd10::4", "kr0"]]);
      const tryProbe = async () => {
        const results = await h.dataplane.apply([routeAdd(probe)]);
        if (results[0]?.ok) expectOk(await h.dataplane.apply([routeDelete(probe)]));
        return results;
      };
      const covering = viaRoute("fd10::4/128", [["fd10::3", "kr0"]], { table: MAIN });
      expectOk(await tryProbe());
      expectOk(await h.dataplane.apply([routeAdd(covering)]));
      expectErrno((await tryProbe())[0], "EHOSTUNREACH", "No route to host");
      expectOk(await h.dataplane.apply([routeDelete(covering)]));
      expectOk(await tryProbe());
      // A route through a group leaves by its members' devices, as they are now. The probe
      // is a nexthop object here: adding and deleting one changes no route.
      const onKr0 = gatewayNexthop(7, "fd10::3", "kr0");
      const onKr1 = gatewayNexthop(7, "fd11::3", "kr1");
      expectOk(
        await h.dataplane.apply([
          nexthopAdd(onKr1),
          nexthopAdd(groupNexthop(9, [7])),
          routeAdd(nexthopRoute("fd10::4/128", 9, { table: MAIN })),
        ]),
      );
      const nexthopProbe = gatewayNexthop(20, "fd10::4", "kr0");
      const tryNexthopProbe = async () => {
        const results = await h.dataplane.apply([nexthopAdd(nexthopProbe)]);
        if (results[0]?.ok) expectOk(await h.dataplane.apply([nexthopDelete(nexthopProbe)]));
        return results;
      };
      expectOk(await tryNexthopProbe());
      expectOk(await h.dataplane.apply([nexthopReplace(onKr1, onKr0)]));
      expectErrno((await tryNexthopProbe())[0], "EHOSTUNREACH", "No route to host");
    });

    it("IPv6: routes out of other devices, and special routes, are passed over", async () => {
      const h = harness();
      const blackhole: KernelRoute = {
        ...deviceRoute("fd10::5/128", "kr0"),
        target: { kind: "special", type: "blackhole" },
      };
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("fd10::2/128", [["fd11::3", "kr1"]], { table: MAIN })),
          routeAdd(deviceRoute("fd10::4/128", "kr1")),
          routeAdd(blackhole),
        ]),
      );
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("2001:db8:1::/64", [["fd10::2", "kr0"]])),
          routeAdd(viaRoute("2001:db8:2::/64", [["fd10::4", "kr0"]])),
          routeAdd(viaRoute("2001:db8:3::/64", [["fd10::5", "kr0"]])),
        ]),
      );
    });

    it("IPv6: at one prefix, the lowest metric route out of the device decides", async () => {
      const h = harness();
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("fd10::2/128", [["fd10::3", "kr0"]], { table: MAIN, metric: 10 })),
          routeAdd(deviceRoute("fd10::2/128", "kr0", { metric: 20 })),
          routeAdd(deviceRoute("fd10::4/128", "kr0", { metric: 10 })),
          routeAdd(viaRoute("fd10::4/128", [["fd10::3", "kr0"]], { table: MAIN, metric: 20 })),
        ]),
      );
      const [gatewayFirst] = await h.dataplane.apply([
        routeAdd(viaRoute("2001:db8:1::/64", [["fd10::2", "kr0"]])),
      ]);
      expectErrno(gatewayFirst, "EHOSTUNREACH", "No route to host");
      expectOk(await h.dataplane.apply([routeAdd(viaRoute("2001:db8:2::/64", [["fd10::4", "kr0"]]))]));
    });

    it("IPv6: the route's own table is asked first, main when it fails", async () => {
      const h = harness();
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("fd10::2/128", [["fd10::3", "kr0"]], { table: TABLE })),
          routeAdd(deviceRoute("fd99::/64", "kr0", { table: TABLE })),
        ]),
      );
      // The gateway route in table 100 fails the table's answer; main's connected route passes.
      expectOk(await h.dataplane.apply([routeAdd(viaRoute("2001:db8:1::/64", [["fd10::2", "kr0"]]))]));
      // fd99::1 is on-link in table 100 only: not for another table, nor for a nexthop object (main).
      expectOk(await h.dataplane.apply([routeAdd(viaRoute("2001:db8:2::/64", [["fd99::1", "kr0"]]))]));
      const [otherTable] = await h.dataplane.apply([
        routeAdd(viaRoute("2001:db8:2::/64", [["fd99::1", "kr0"]], { table: TABLE + 1 })),
      ]);
      expectErrno(otherTable, "EHOSTUNREACH", "No route to host");
      const [nexthop] = await h.dataplane.apply([nexthopAdd(gatewayNexthop(8, "fd99::1", "kr0"))]);
      expectErrno(nexthop, "EHOSTUNREACH", "No route to host");
    });

    it("IPv4: any route out of the device of scope link; routes via gateways are passed over", async () => {
      const h = harness();
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("10.10.0.2/32", [["10.10.0.3", "kr0"]], { table: MAIN })),
          routeAdd(deviceRoute("10.99.0.0/24", "kr0", { scope: 0 })),
          routeAdd(deviceRoute("10.98.0.0/24", "kr0", { scope: 253 })),
        ]),
      );
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("192.0.2.0/24", [["10.10.0.2", "kr0"]])),
          nexthopAdd(gatewayNexthop(1, "10.10.0.2", "kr0")),
          routeAdd(viaRoute("198.51.100.0/24", [["10.98.0.1", "kr0"]])),
        ]),
      );
      // A device route of scope universe does not make its addresses on-link.
      const [universe] = await h.dataplane.apply([
        routeAdd(viaRoute("203.0.113.0/24", [["10.99.0.1", "kr0"]])),
      ]);
      expectErrno(universe, "ENETUNREACH", "Nexthop has invalid gateway");
    });
  });
}
