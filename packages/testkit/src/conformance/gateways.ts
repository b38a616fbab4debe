/**
 * Which gateways Linux takes, beyond "on-link through the named device" (each case
 * checked with `ip` in a scratch namespace on 6.18): the node's own addresses and
 * IPv6 link-local gateways. IPv4 and IPv6 differ.
 */
import type { KernelNexthop, KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import {
  canonicalRoute,
  expectErrno,
  expectOk,
  gatewayNexthop,
  ip,
  ourNexthops,
  ourRoutes,
  sortRoutes,
  viaRoute,
} from "./support.ts";

const add = (to: KernelRoute) => ({ object: "route", action: "add", to }) as const;
const replace = (from: KernelRoute, to: KernelRoute) =>
  ({ object: "route", action: "replace", from, to }) as const;
const addNexthop = (to: KernelNexthop) => ({ object: "nexthop", action: "add", to }) as const;

const LOCAL_GATEWAY = "Gateway can not be a local address";

export function gatewayConformance(harness: () => ConformanceHarness): void {
  describe("gateways that are the node's own addresses", () => {
    it("IPv6 refuses one, on any device, before it checks the gateway is on-link", async () => {
      const h = harness();
      const [ownOnDevice] = await h.dataplane.apply([add(viaRoute("2001:db8:1::/64", [["fd10::1", "kr0"]]))]);
      expectErrno(ownOnDevice, "EINVAL", LOCAL_GATEWAY);
      // fd11::1 is kr1's, and not on-link through kr0 either: the local check speaks first.
      const [ownOnOther] = await h.dataplane.apply([add(viaRoute("2001:db8:1::/64", [["fd11::1", "kr0"]]))]);
      expectErrno(ownOnOther, "EINVAL", LOCAL_GATEWAY);
      const [nexthop] = await h.dataplane.apply([addNexthop(gatewayNexthop(6, "fd10::1", "kr0"))]);
      expectErrno(nexthop, "EINVAL", LOCAL_GATEWAY);
      expect(await ourNexthops(h)).toEqual([]);
    });

    it("IPv6 refuses a multipath route with one own address among its gateways, and a replace to one", async () => {
      const h = harness();
      const multipath = viaRoute("2001:db8:2::/64", [
        ["fd11::2", "kr1"],
        ["fd10::1", "kr0"],
      ]);
      expectErrno((await h.dataplane.apply([add(multipath)]))[0], "EINVAL", LOCAL_GATEWAY);
      const route = viaRoute("2001:db8:3::/64", [["fd10::2", "kr0"]]);
      expectOk(await h.dataplane.apply([add(route)]));
      const [replaced] = await h.dataplane.apply([
        replace(route, viaRoute("2001:db8:3::/64", [["fd10::1", "kr0"]])),
      ]);
      expectErrno(replaced, "EINVAL", LOCAL_GATEWAY);
      expect(await ourRoutes(h, [6])).toEqual([route]);
    });

    it("IPv6 refuses a gateway as soon as the node takes its address, in a subnet it already had", async () => {
      const h = harness();
      const route = viaRoute("2001:db8:1::/64", [["fd10::9", "kr0"]]);
      expectOk(await h.dataplane.apply([add(route), { object: "route", action: "delete", from: route }]));
      // Same subnet as fd10::1/64: no new connected route, only the address.
      await h.host.addAddress("kr0", ip("fd10::9"), 64);
      expectErrno((await h.dataplane.apply([add(route)]))[0], "EINVAL", LOCAL_GATEWAY);
    });

    it("IPv4 takes one through the device holding it, for a route and a nexthop object", async () => {
      const h = harness();
      const single = viaRoute("192.0.2.0/24", [["10.10.0.1", "kr0"]]);
      const multipath = viaRoute("198.51.100.0/24", [
        ["10.10.0.2", "kr0"],
        ["10.10.0.1", "kr0"],
      ]);
      const nexthop = gatewayNexthop(1, "10.10.0.1", "kr0");
      expectOk(await h.dataplane.apply([add(single), add(multipath), addNexthop(nexthop)]));
      expect(await ourRoutes(h, [4])).toEqual(sortRoutes([single, canonicalRoute(multipath)]));
      expect(await ourNexthops(h)).toEqual([nexthop]);
      // kr1's address is not on-link through kr0.
      const [otherDevice] = await h.dataplane.apply([
        add(viaRoute("203.0.113.0/24", [["10.11.0.1", "kr0"]])),
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
      expectOk(await h.dataplane.apply([add(route), add(outside), addNexthop(nexthop)]));
      expect(await ourRoutes(h, [6])).toEqual([route, outside]);
      expect(await ourNexthops(h)).toEqual([nexthop]);
    });

    it("a device without carrier takes a route, not a nexthop object; a device that is down neither", async () => {
      const h = harness();
      await h.host.setCarrier("kr1", false);
      expectOk(await h.dataplane.apply([add(viaRoute("2001:db8:1::/64", [["fe80::1", "kr1"]]))]));
      const [carrierless] = await h.dataplane.apply([addNexthop(gatewayNexthop(7, "fe80::1", "kr1"))]);
      expectErrno(carrierless, "ENETDOWN", "Carrier for nexthop device is down");
      await h.host.setAdminUp("kr1", false);
      const [route] = await h.dataplane.apply([add(viaRoute("2001:db8:2::/64", [["fe80::1", "kr1"]]))]);
      expectErrno(route, "ENETDOWN", "Nexthop device is not up");
      const [down] = await h.dataplane.apply([addNexthop(gatewayNexthop(7, "fe80::1", "kr1"))]);
      expectErrno(down, "ENETDOWN", "Nexthop device is not up");
    });

    it("one of the node's own is refused only through the device holding it", async () => {
      const h = harness();
      await h.host.addAddress("kr0", ip("fe80::99"), 64);
      const [own] = await h.dataplane.apply([add(viaRoute("2001:db8:1::/64", [["fe80::99", "kr0"]]))]);
      expectErrno(own, "EINVAL", LOCAL_GATEWAY);
      const [ownNexthop] = await h.dataplane.apply([addNexthop(gatewayNexthop(6, "fe80::99", "kr0"))]);
      expectErrno(ownNexthop, "EINVAL", LOCAL_GATEWAY);
      const elsewhere = viaRoute("2001:db8:1::/64", [["fe80::99", "kr1"]]);
      expectOk(await h.dataplane.apply([add(elsewhere)]));
      expect(await ourRoutes(h, [6])).toEqual([elsewhere]);
    });
  });
}
