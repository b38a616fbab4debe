/**
 * What link changes do to routes and nexthops, as Linux 6.x does it (checked with
 * `ip` on veth pairs): nexthop objects go with their device on carrier loss, on
 * administrative down and on deletion, taking the routes that used them; legacy
 * routes survive carrier loss flagged linkdown.
 */
import type { KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { nexthopAdd, routeAdd } from "./ops.ts";
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
  sortRoutes,
  viaRoute,
} from "./support.ts";

const RTPROT_KERNEL = 2;
const A = gatewayNexthop(1, "10.10.0.2", "kr0");
const B = gatewayNexthop(2, "10.11.0.2", "kr1");
const B6 = gatewayNexthop(7, "fd11::2", "kr1");

/** Nexthop objects on kr1 and routes through them, plus legacy routes touching kr1. */
const viaB = nexthopRoute("198.51.100.0/24", 2);
const viaGroupAB = nexthopRoute("192.0.2.0/24", 100);
const viaOnlyB = nexthopRoute("203.0.113.0/24", 101);
const viaB6 = nexthopRoute("2001:db8:7::/64", 7);
const legacySingle = viaRoute("198.18.1.0/24", [["10.11.0.2", "kr1"]]);
const legacyMultipath = viaRoute("198.18.0.0/24", [
  ["10.10.0.2", "kr0"],
  ["10.11.0.2", "kr1"],
]);
const legacyMultipath6 = viaRoute("2001:db8:2::/64", [
  ["fd10::2", "kr0"],
  ["fd11::2", "kr1"],
]);

async function build(h: ConformanceHarness): Promise<void> {
  expectOk(
    await h.dataplane.apply([
      nexthopAdd(A),
      nexthopAdd(B),
      nexthopAdd(B6),
      nexthopAdd(groupNexthop(100, [1, 2])),
      nexthopAdd(groupNexthop(101, [2])),
      routeAdd(viaB),
      routeAdd(viaGroupAB),
      routeAdd(viaOnlyB),
      routeAdd(viaB6),
      routeAdd(legacySingle),
      routeAdd(legacyMultipath),
      routeAdd(legacyMultipath6),
    ]),
  );
}

/** The route with kr1's inline nexthops flagged linkdown, as dumps show it then. */
function linkdownOnKr1(route: KernelRoute): KernelRoute {
  if (route.target.kind !== "gateways") return route;
  return canonicalRoute({
    ...route,
    target: {
      kind: "gateways",
      nexthops: route.target.nexthops.map((nexthop) =>
        nexthop.dev === "kr1" ? { ...nexthop, linkdown: true } : nexthop,
      ),
    },
  });
}

export function linkConformance(harness: () => ConformanceHarness): void {
  describe("links", () => {
    it("carrier loss deletes the device's nexthop objects and their routes; legacy routes stay, linkdown", async () => {
      const h = harness();
      await build(h);
      await h.host.setCarrier("kr1", false);
      expect(await ourNexthops(h)).toEqual([A, groupNexthop(100, [1])]);
      expect(await ourRoutes(h)).toEqual(
        sortRoutes([
          viaGroupAB,
          linkdownOnKr1(legacySingle),
          linkdownOnKr1(legacyMultipath),
          linkdownOnKr1(legacyMultipath6),
        ]),
      );
      const link = (await h.dataplane.list({})).links.find((candidate) => candidate.name === "kr1");
      expect(link).toMatchObject({ up: true, carrier: false });
    });

    it("carrier back clears linkdown but brings no nexthop object back", async () => {
      const h = harness();
      await build(h);
      await h.host.setCarrier("kr1", false);
      await h.host.setCarrier("kr1", true);
      expect(await ourNexthops(h)).toEqual([A, groupNexthop(100, [1])]);
      expect(await ourRoutes(h)).toEqual(
        sortRoutes([
          viaGroupAB,
          legacySingle,
          canonicalRoute(legacyMultipath),
          canonicalRoute(legacyMultipath6),
        ]),
      );
    });

    it("administrative down deletes nexthops and single-path routes on the device; multipath routes stay", async () => {
      const h = harness();
      await build(h);
      await h.host.setAdminUp("kr1", false);
      expect(await ourNexthops(h)).toEqual([A, groupNexthop(100, [1])]);
      expect(await ourRoutes(h)).toEqual(
        sortRoutes([viaGroupAB, linkdownOnKr1(legacyMultipath), linkdownOnKr1(legacyMultipath6)]),
      );
      const snapshot = await h.dataplane.list({});
      // IPv6 addresses are flushed on down (keep_addr_on_down=0); IPv4 ones stay.
      expect(snapshot.addresses.filter((address) => address.dev === "kr1")).toEqual([
        { ip: ip("10.11.0.1"), prefixLength: 24, dev: "kr1" },
      ]);
      expect(
        snapshot.routes.filter((route) => route.target.kind === "device" && route.target.dev === "kr1"),
      ).toEqual([]);
    });

    it("deleting a link takes its nexthops, addresses and routes; IPv6 multipath keeps its other nexthop", async () => {
      const h = harness();
      await build(h);
      await h.host.deleteLink("kr1");
      expect(await ourNexthops(h)).toEqual([A, groupNexthop(100, [1])]);
      // IPv4 drops the whole multipath route; IPv6 keeps it through kr0 alone.
      expect(await ourRoutes(h)).toEqual(
        sortRoutes([viaGroupAB, viaRoute("2001:db8:2::/64", [["fd10::2", "kr0"]])]),
      );
      const snapshot = await h.dataplane.list({});
      expect(snapshot.links.map((link) => link.name)).not.toContain("kr1");
      expect(snapshot.addresses.filter((address) => address.dev === "kr1")).toEqual([]);
    });

    it("accepts routes through a link without carrier, flagged linkdown", async () => {
      const h = harness();
      await h.host.setCarrier("kr1", false);
      const routes = [
        viaRoute("192.0.2.0/24", [["10.11.0.2", "kr1"]]),
        viaRoute("2001:db8:3::/64", [["fd11::2", "kr1"]]),
      ];
      expectOk(await h.dataplane.apply(routes.map(routeAdd)));
      expect(await ourRoutes(h)).toEqual(sortRoutes(routes.map(linkdownOnKr1)));
    });

    it("refuses routes and nexthops through an administratively down link", async () => {
      const h = harness();
      await h.host.setAdminUp("kr1", false);
      const [v4] = await h.dataplane.apply([routeAdd(viaRoute("192.0.2.0/24", [["10.11.0.2", "kr1"]]))]);
      // Its connected route went with it, so the gateway is no longer on-link.
      expectErrno(v4, "ENETUNREACH", "Nexthop has invalid gateway");
      const [v6] = await h.dataplane.apply([routeAdd(viaRoute("2001:db8:3::/64", [["fd11::2", "kr1"]]))]);
      expectErrno(v6, "EHOSTUNREACH");
      const [device] = await h.dataplane.apply([
        routeAdd({ ...viaRoute("192.0.3.0/24", []), scope: 253, target: { kind: "device", dev: "kr1" } }),
      ]);
      expectErrno(device, "ENETDOWN", "Device for nexthop is not up");
      // IPv6 words it as a nexthop object does.
      const [device6] = await h.dataplane.apply([
        routeAdd({ ...viaRoute("2001:db8:4::/64", []), target: { kind: "device", dev: "kr1" } }),
      ]);
      expectErrno(device6, "ENETDOWN", "Nexthop device is not up");
      const [nexthop] = await h.dataplane.apply([nexthopAdd(B)]);
      expectErrno(nexthop, "ENETDOWN", "Nexthop device is not up");
    });

    it("a new link with an address makes its subnet's gateways usable", async () => {
      const h = harness();
      await h.host.addLink("kr2");
      await h.host.addAddress("kr2", ip("10.12.0.1"), 24);
      await h.host.addAddress("kr2", ip("fd12::1"), 64);
      const routes = [
        viaRoute("192.0.2.0/24", [["10.12.0.2", "kr2"]]),
        viaRoute("2001:db8:3::/64", [["fd12::2", "kr2"]]),
      ];
      expectOk(await h.dataplane.apply(routes.map(routeAdd)));
      expect(await ourRoutes(h)).toEqual(sortRoutes(routes));
      await h.host.deleteLink("kr2");
      expect(await ourRoutes(h)).toEqual([]);
    });

    it("two links in one IPv4 subnet each get its connected route, and each carries gateways", async () => {
      const h = harness();
      await h.host.addLink("kr2");
      // kr0's subnet, 10.10.0.0/24: Linux adds a second connected route, out of kr2.
      await h.host.addAddress("kr2", ip("10.10.0.9"), 24);
      const viaKr2 = viaRoute("192.0.2.0/24", [["10.10.0.3", "kr2"]]);
      const viaKr0 = viaRoute("198.51.100.0/24", [["10.10.0.3", "kr0"]]);
      expectOk(await h.dataplane.apply([routeAdd(viaKr2), routeAdd(viaKr0)]));
      const snapshot = await h.dataplane.list({ families: [4], tables: [MAIN] });
      const connected = snapshot.routes
        .filter((route) => route.dst === "10.10.0.0/24" && route.protocol === RTPROT_KERNEL)
        .map((route) => (route.target.kind === "device" ? route.target.dev : route.target.kind))
        .sort();
      expect(connected).toEqual(["kr0", "kr2"]);
      // kr0 going down takes only its own: kr2's subnet route still carries a new gateway route.
      await h.host.setAdminUp("kr0", false);
      const again = viaRoute("203.0.113.0/24", [["10.10.0.4", "kr2"]]);
      expectOk(await h.dataplane.apply([routeAdd(again)]));
      expect(await ourRoutes(h)).toEqual(sortRoutes([viaKr2, again]));
    });
  });
}
