/**
 * Routes with a TOS, as other programs write them (`ip route add ... tos 0x10`; kroute
 * writes none): Linux keys IPv4 routes by (table, dst, tos, metric), so a route with a
 * TOS stands beside one without, a delete must name it, and lookups take it only for
 * flows of that TOS. IPv6 refuses a TOS. Each case checked with `ip` on Linux 6.18.
 */
import type { KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { routeAdd, routeDelete, routeReplace } from "./ops.ts";
import {
  expectErrno,
  expectOk,
  ip,
  MAIN,
  notificationBarrier,
  ourRoutes,
  PROTO,
  prefix,
  recordChanges,
  TABLE,
  viaRoute,
} from "./support.ts";

const withTos = (route: KernelRoute, tos: number): KernelRoute => ({ ...route, tos });

export function tosConformance(harness: () => ConformanceHarness): void {
  describe("routes with a TOS", () => {
    const plain = viaRoute("192.0.2.0/24", [["10.10.0.2", "kr0"]]);
    const marked = withTos(viaRoute("192.0.2.0/24", [["10.10.0.3", "kr0"]]), 0x10);

    it("two IPv4 routes that differ only in TOS are two routes, each dumped with its TOS", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([routeAdd(plain), routeAdd(marked)]));
      expect(await ourRoutes(h, [4])).toEqual([marked, plain]);
      const [again] = await h.dataplane.apply([routeAdd(withTos(plain, 0x10))]);
      expectErrno(again, "EEXIST");
    });

    it("a delete names the TOS: one without it never takes the route with it", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([routeAdd(plain), routeAdd(marked)]));
      expectOk(await h.dataplane.apply([routeDelete(plain)]));
      expect(await ourRoutes(h, [4])).toEqual([marked]);
      expectErrno((await h.dataplane.apply([routeDelete(plain)]))[0], "ESRCH");
      expectErrno((await h.dataplane.apply([routeDelete(withTos(plain, 0x08))]))[0], "ESRCH");
      expectOk(await h.dataplane.apply([routeDelete(marked)]));
      expect(await ourRoutes(h, [4])).toEqual([]);
    });

    it("a replace at a TOS's key changes that route alone", async () => {
      const h = harness();
      const moved = withTos(viaRoute("192.0.2.0/24", [["10.11.0.2", "kr1"]]), 0x10);
      expectOk(await h.dataplane.apply([routeAdd(plain), routeAdd(marked), routeReplace(marked, moved)]));
      expect(await ourRoutes(h, [4])).toEqual([moved, plain]);
    });

    it("refuses a TOS with the ECN bits set before it creates the table", async () => {
      const h = harness();
      const route = withTos(viaRoute("192.0.2.0/24", [["10.10.0.2", "kr0"]], { table: TABLE + 9 }), 0x11);
      const [result] = await h.dataplane.apply([routeAdd(route)]);
      expectErrno(result, "EINVAL", "Invalid dsfield (tos): ECN bits must be 0");
      const [deleted] = await h.dataplane.apply([routeDelete({ ...route, tos: 0 })]);
      expectErrno(deleted, "ESRCH", "FIB table does not exist");
    });

    it("refuses a TOS a byte cannot hold, naming it, and the rest of the batch goes in", async () => {
      const h = harness();
      // rtm_tos is one byte: 0x110 cut to it would be 0x10, a key another route may hold.
      const wide = withTos(viaRoute("198.18.0.0/24", [["10.10.0.2", "kr0"]]), 0x110);
      const other = viaRoute("198.19.0.0/24", [["10.10.0.4", "kr0"]]);
      const refusal = (tos: number) => `tos ${tos} is out of range: rtm_tos is one byte (0 to 255)`;
      expectOk(await h.dataplane.apply([routeAdd(plain)]));
      const results = await h.dataplane.apply([
        routeAdd(wide),
        routeReplace(plain, withTos(plain, 0x110)),
        routeDelete(withTos(plain, 256)),
        routeAdd(withTos(other, -1)),
        routeAdd(other),
      ]);
      expectErrno(results[0], "EINVAL", refusal(0x110));
      expectErrno(results[1], "EINVAL", refusal(0x110));
      expectErrno(results[2], "EINVAL", refusal(256));
      expectErrno(results[3], "EINVAL", refusal(-1));
      expect(results[4]).toEqual({ ok: true });
      expect(await ourRoutes(h, [4])).toEqual([plain, other]);
      const lookup = await h.dataplane.lookup({ dst: ip("192.0.2.1"), tos: 0x110 });
      expectErrno(lookup, "EINVAL", refusal(0x110));
    });

    it("IPv6 refuses a TOS, in an add and in a delete", async () => {
      const h = harness();
      const route = withTos(viaRoute("2001:db8:1::/64", [["fd10::2", "kr0"]]), 0x10);
      const message = "Invalid dsfield (tos): option not available for IPv6";
      expectErrno((await h.dataplane.apply([routeAdd(route)]))[0], "EINVAL", message);
      expectErrno((await h.dataplane.apply([routeDelete(route)]))[0], "EINVAL", message);
      expect(await ourRoutes(h, [6])).toEqual([]);
    });

    it("a lookup takes a TOS's route only for flows of that TOS (its RFC 1349 bits)", async () => {
      const h = harness();
      const at = (dst: string, gateway: string, tos?: number): KernelRoute => {
        const route = viaRoute(dst, [[gateway, "kr0"]], { table: MAIN });
        return tos === undefined ? route : withTos(route, tos);
      };
      expectOk(
        await h.dataplane.apply([
          routeAdd(at("203.0.113.0/24", "10.10.0.2")),
          routeAdd(at("203.0.113.0/24", "10.10.0.3", 0x10)),
          routeAdd(at("198.18.0.0/24", "10.10.0.4", 0x10)),
        ]),
      );
      const gateway = async (dst: string, tos?: number): Promise<string | undefined> => {
        const result = await h.dataplane.lookup({ dst: ip(dst), ...(tos === undefined ? {} : { tos }) });
        return result.ok ? result.gateway : result.code;
      };
      expect(await gateway("203.0.113.5")).toBe("10.10.0.2");
      expect(await gateway("203.0.113.5", 0x10)).toBe("10.10.0.3");
      // 0xf0 holds 0x10's bits; 0x14 does not match 0x10.
      expect(await gateway("203.0.113.5", 0xf0)).toBe("10.10.0.3");
      expect(await gateway("203.0.113.5", 0x14)).toBe("10.10.0.2");
      // A prefix with no route for the flow's TOS is passed over: no default route here.
      expect(await gateway("198.18.0.5")).toBe("ENETUNREACH");
      expect(await gateway("198.18.0.5", 0x10)).toBe("10.10.0.4");
    });

    it("a device route with a TOS does not make a gateway on-link", async () => {
      const h = harness();
      const device: KernelRoute = {
        family: 4,
        table: MAIN,
        dst: prefix("10.12.0.0/24"),
        metric: 0,
        tos: 0x10,
        protocol: PROTO,
        scope: 253,
        target: { kind: "device", dev: "kr1" },
      };
      expectOk(await h.dataplane.apply([routeAdd(device)]));
      const [result] = await h.dataplane.apply([routeAdd(viaRoute("198.19.0.0/24", [["10.12.0.2", "kr1"]]))]);
      expectErrno(result, "ENETUNREACH", "Nexthop has invalid gateway");
    });

    it("notifications carry the TOS", async () => {
      const h = harness();
      const recorder = recordChanges(h);
      expectOk(await h.dataplane.apply([routeAdd(plain), routeAdd(marked), routeDelete(marked)]));
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      const ours = recorder.changes.flatMap((change) =>
        change.kind === "route" && change.route.table === TABLE ? [[change.action, change.route]] : [],
      );
      expect(ours).toEqual([
        ["new", plain],
        ["new", marked],
        ["del", marked],
      ]);
    });
  });
}
