/**
 * Route requests and their outcomes, as Linux 6.x gives them (each checked with
 * `ip` in a scratch namespace; the errnos differ between IPv4 and IPv6 in places).
 */
import type { KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { routeAdd, routeDelete, routeReplace } from "./ops.ts";
import {
  canonicalRoute,
  expectErrno,
  expectOk,
  ip,
  MAIN,
  OTHER_PROTO,
  ourRoutes,
  PROTO,
  prefix,
  sortRoutes,
  TABLE,
  viaRoute,
} from "./support.ts";

export function routeConformance(harness: () => ConformanceHarness): void {
  describe("routes", () => {
    it("starts with a connected route per address, as the kernel installs them", async () => {
      const h = harness();
      const [kr0] = h.topology.links;
      const snapshot = await h.dataplane.list({ tables: [MAIN] });
      const connected = snapshot.routes.filter(
        (route) => route.target.kind === "device" && route.target.dev === kr0.name && route.protocol === 2,
      );
      expect(connected).toContainEqual({
        family: 4,
        table: MAIN,
        dst: prefix("10.10.0.0/24"),
        metric: 0,
        protocol: 2,
        scope: 253,
        prefsrc: kr0.v4.ip,
        target: { kind: "device", dev: kr0.name },
      });
      expect(connected).toContainEqual({
        family: 6,
        table: MAIN,
        dst: prefix("fd10::/64"),
        metric: 256,
        protocol: 2,
        scope: 0,
        target: { kind: "device", dev: kr0.name },
      });
      expect(snapshot.links.map((link) => link.name)).toEqual(expect.arrayContaining(["kr0", "kr1"]));
      expect(snapshot.addresses).toEqual(
        expect.arrayContaining([
          { ip: kr0.v4.ip, prefixLength: 24, dev: "kr0" },
          { ip: kr0.v6.ip, prefixLength: 64, dev: "kr0" },
        ]),
      );
    });

    for (const [family, dst, gateway, other] of [
      [4, "192.0.2.0/24", "10.10.0.2", "10.10.0.3"],
      [6, "2001:db8:1::/64", "fd10::2", "fd10::3"],
    ] as const) {
      describe(`IPv${family}`, () => {
        const route = viaRoute(dst, [[gateway, "kr0"]]);

        it("adds a route and dumps it back unchanged", async () => {
          const h = harness();
          expectOk(await h.dataplane.apply([routeAdd(route)]));
          expect(await ourRoutes(h, [family])).toEqual([route]);
        });

        it("refuses an exclusive add of an existing key with EEXIST and keeps the first", async () => {
          const h = harness();
          expectOk(await h.dataplane.apply([routeAdd(route)]));
          const [result] = await h.dataplane.apply([routeAdd(viaRoute(dst, [[other, "kr0"]]))]);
          expectErrno(result, "EEXIST", "File exists");
          expect(await ourRoutes(h, [family])).toEqual([route]);
        });

        it("validates before it looks at the key: a bad gateway at a taken key is not EEXIST", async () => {
          const h = harness();
          expectOk(await h.dataplane.apply([routeAdd(route)]));
          const offLink = viaRoute(dst, [[family === 4 ? "10.99.0.1" : "fd99::1", "kr0"]]);
          const [result] = await h.dataplane.apply([routeAdd(offLink)]);
          expectErrno(result, family === 4 ? "ENETUNREACH" : "EHOSTUNREACH");
        });

        it("replace at the same key swaps the route in place", async () => {
          const h = harness();
          const moved = viaRoute(dst, [[other, "kr0"]]);
          expectOk(await h.dataplane.apply([routeAdd(route), routeReplace(route, moved)]));
          expect(await ourRoutes(h, [family])).toEqual([moved]);
        });

        it("replace with another metric is another key: a second route", async () => {
          const h = harness();
          const second = viaRoute(dst, [[other, "kr0"]], { metric: 200 });
          expectOk(await h.dataplane.apply([routeAdd(route), routeReplace(second, second)]));
          expect(await ourRoutes(h, [family])).toEqual(sortRoutes([route, second]));
        });

        it("replace creates a missing route", async () => {
          const h = harness();
          expectOk(await h.dataplane.apply([routeReplace(route, route)]));
          expect(await ourRoutes(h, [family])).toEqual([route]);
        });

        it("deleting a missing route is ESRCH, with an extack when its table does not exist", async () => {
          const h = harness();
          const [noTable] = await h.dataplane.apply([routeDelete(route)]);
          expectErrno(noTable, "ESRCH", "FIB table does not exist");
          expectOk(await h.dataplane.apply([routeAdd(route)]));
          const [wrongMetric] = await h.dataplane.apply([routeDelete({ ...route, metric: 5 })]);
          expectErrno(wrongMetric, "ESRCH", "No such process");
        });

        it("a refused add still creates its table (Linux creates it before checking)", async () => {
          const h = harness();
          const offLink = viaRoute(dst, [[family === 4 ? "10.99.0.1" : "fd99::1", "kr0"]], {
            table: TABLE + 7,
          });
          expect((await h.dataplane.apply([routeAdd(offLink)]))[0]?.ok).toBe(false);
          const [result] = await h.dataplane.apply([routeDelete(offLink)]);
          expectErrno(result, "ESRCH", "No such process");
        });

        it("deletes a route", async () => {
          const h = harness();
          expectOk(await h.dataplane.apply([routeAdd(route), routeDelete(route)]));
          expect(await ourRoutes(h, [family])).toEqual([]);
        });

        it("a delete naming our protocol leaves another owner's route at that key alone (ESRCH)", async () => {
          const h = harness();
          const foreign = { ...route, protocol: OTHER_PROTO };
          expectOk(await h.dataplane.apply([routeAdd(foreign)]));
          const [result] = await h.dataplane.apply([routeDelete(route)]);
          expectErrno(result, "ESRCH");
          const snapshot = await h.dataplane.list({ protocols: [OTHER_PROTO], families: [family] });
          expect(snapshot.routes).toEqual([foreign]);
        });

        it("replace without create on a missing key is ENOENT (`ip route change`)", async () => {
          const h = harness();
          const result = await h.othersRouteRequest(route, "change");
          // IPv4 answers with strerror, IPv6 with an extack.
          expectErrno(
            result,
            "ENOENT",
            family === 4 ? "No such file or directory" : "Can not replace route - no match found",
          );
          expect(await ourRoutes(h, [family])).toEqual([]);
        });

        it("refuses a gateway that is not on-link", async () => {
          const h = harness();
          const offLink = viaRoute(dst, [[family === 4 ? "10.99.0.1" : "fd99::1", "kr0"]]);
          const [result] = await h.dataplane.apply([routeAdd(offLink)]);
          if (family === 4) expectErrno(result, "ENETUNREACH", "Nexthop has invalid gateway");
          else expectErrno(result, "EHOSTUNREACH", "No route to host");
          // On-link, but through the other device.
          const [wrongDev] = await h.dataplane.apply([routeAdd(viaRoute(dst, [[gateway, "kr1"]]))]);
          expectErrno(wrongDev, family === 4 ? "ENETUNREACH" : "EHOSTUNREACH");
          expect(await ourRoutes(h, [family])).toEqual([]);
        });

        it("replace reshapes a route in place: one gateway, several, fewer, a nexthop object", async () => {
          const h = harness();
          const [peer, third] = family === 4 ? ["10.11.0.2", "10.10.0.4"] : ["fd11::2", "fd10::4"];
          const single = viaRoute(dst, [[gateway, "kr0"]]);
          const three = viaRoute(dst, [
            [gateway, "kr0"],
            [peer, "kr1"],
            [third, "kr0"],
          ]);
          const two = viaRoute(dst, [
            [gateway, "kr0"],
            [peer, "kr1"],
          ]);
          const nexthop = {
            kind: "gateway",
            id: 9,
            family,
            protocol: PROTO,
            gateway: ip(other),
            dev: "kr0",
          } as const;
          const viaObject: KernelRoute = { ...single, target: { kind: "nexthop-object", id: 9 } };
          expectOk(await h.dataplane.apply([routeAdd(single), routeReplace(single, three)]));
          expect(await ourRoutes(h, [family])).toEqual([canonicalRoute(three)]);
          expectOk(await h.dataplane.apply([routeReplace(three, two)]));
          expect(await ourRoutes(h, [family])).toEqual([canonicalRoute(two)]);
          expectOk(await h.dataplane.apply([routeReplace(two, single)]));
          expect(await ourRoutes(h, [family])).toEqual([single]);
          expectOk(
            await h.dataplane.apply([
              { object: "nexthop", action: "add", to: nexthop },
              routeReplace(single, viaObject),
            ]),
          );
          expect(await ourRoutes(h, [family])).toEqual([viaObject]);
          expectOk(await h.dataplane.apply([routeReplace(viaObject, two)]));
          expect(await ourRoutes(h, [family])).toEqual([canonicalRoute(two)]);
        });

        it("a replace naming another key moves the route: the old key is gone", async () => {
          const h = harness();
          const moved = viaRoute(dst, [[other, "kr0"]], { metric: 300 });
          expectOk(await h.dataplane.apply([routeAdd(route), routeReplace(route, moved)]));
          expect(await ourRoutes(h, [family])).toEqual([moved]);
        });

        it("adds a multipath route with weights", async () => {
          const h = harness();
          const peer = family === 4 ? "10.11.0.2" : "fd11::2";
          const multipath = viaRoute(dst, [
            [gateway, "kr0", 3],
            [peer, "kr1", 1],
          ]);
          expectOk(await h.dataplane.apply([routeAdd(multipath)]));
          expect(await ourRoutes(h, [family])).toEqual([canonicalRoute(multipath)]);
        });
      });
    }

    it("IPv6 stores metric 0 as 1024, and reads metric 0 in a delete as any metric", async () => {
      const h = harness();
      const zero = viaRoute("2001:db8:5::/64", [["fd10::2", "kr0"]], { metric: 0 });
      expectOk(await h.dataplane.apply([routeAdd(zero)]));
      expect(await ourRoutes(h, [6])).toEqual([{ ...zero, metric: 1024 }]);
      expectErrno((await h.dataplane.apply([routeAdd({ ...zero, metric: 1024 })]))[0], "EEXIST");
      expectOk(await h.dataplane.apply([routeDelete(zero)]));
      expect(await ourRoutes(h, [6])).toEqual([]);
    });

    it("IPv4 also reads metric 0 in a delete as any metric: the owner's lowest goes", async () => {
      const h = harness();
      const at = (metric: number, protocol = PROTO) =>
        viaRoute("203.0.113.0/24", [["10.10.0.2", "kr0"]], { table: TABLE, metric, protocol });
      expectOk(
        await h.dataplane.apply([routeAdd(at(1024)), routeAdd(at(20)), routeAdd(at(10, OTHER_PROTO))]),
      );
      expectOk(await h.dataplane.apply([routeDelete(at(0))]));
      expect(await ourRoutes(h, [4])).toEqual([at(1024)]);
      expectOk(await h.dataplane.apply([routeDelete(at(0))]));
      expectErrno((await h.dataplane.apply([routeDelete(at(0))]))[0], "ESRCH");
      const left = (await h.dataplane.list({ families: [4], tables: [TABLE] })).routes;
      expect(left).toEqual([at(10, OTHER_PROTO)]);
    });

    it("filters dumps by family, table and protocol", async () => {
      const h = harness();
      const a = viaRoute("192.0.2.0/24", [["10.10.0.2", "kr0"]], { table: TABLE });
      const b = viaRoute("198.51.100.0/24", [["10.10.0.2", "kr0"]], { table: TABLE + 1 });
      const c = viaRoute("203.0.113.0/24", [["10.10.0.2", "kr0"]], { table: TABLE, protocol: OTHER_PROTO });
      const d = viaRoute("2001:db8:2::/64", [["fd10::2", "kr0"]], { table: TABLE });
      expectOk(await h.dataplane.apply([routeAdd(a), routeAdd(b), routeAdd(c), routeAdd(d)]));
      const tableOnly = await h.dataplane.list({ tables: [TABLE] });
      expect(tableOnly.routes.map((route) => route.dst).sort()).toEqual([a.dst, d.dst, c.dst].sort());
      const protocolOnly = await h.dataplane.list({ protocols: [PROTO] });
      expect(protocolOnly.routes.map((route) => route.dst).sort()).toEqual([a.dst, b.dst, d.dst].sort());
      const narrow = await h.dataplane.list({ families: [4], tables: [TABLE], protocols: [PROTO] });
      expect(narrow.routes).toEqual([a]);
      expect(narrow.complete).toBe(true);
    });

    it("lists the routes of every protocol of the scope, and of no other (an agent handing over from an old one)", async () => {
      const h = harness();
      const ours = viaRoute("192.0.2.0/24", [["10.10.0.2", "kr0"]], { table: TABLE });
      const old = viaRoute("198.51.100.0/24", [["10.10.0.2", "kr0"]], {
        table: TABLE,
        protocol: OTHER_PROTO,
      });
      const third = viaRoute("203.0.113.0/24", [["10.10.0.2", "kr0"]], { table: TABLE, protocol: 186 });
      expectOk(await h.dataplane.apply([routeAdd(ours), routeAdd(old), routeAdd(third)]));
      const both = await h.dataplane.list({ tables: [TABLE], protocols: [PROTO, OTHER_PROTO] });
      expect(both.routes.map((route) => route.dst).sort()).toEqual([ours.dst, old.dst].sort());
      expect(both.complete).toBe(true);
    });

    it("keeps special routes (blackhole, unreachable) as they are", async () => {
      const h = harness();
      const blackhole: KernelRoute = {
        family: 4,
        table: TABLE,
        dst: prefix("198.18.0.0/15"),
        metric: 0,
        protocol: PROTO,
        scope: 0,
        target: { kind: "special", type: "blackhole" },
      };
      const unreachable: KernelRoute = {
        ...blackhole,
        dst: prefix("198.51.100.0/24"),
        target: { kind: "special", type: "unreachable" },
      };
      expectOk(await h.dataplane.apply([routeAdd(blackhole), routeAdd(unreachable)]));
      expect(await ourRoutes(h, [4])).toEqual(sortRoutes([blackhole, unreachable]));
    });
  });
}
