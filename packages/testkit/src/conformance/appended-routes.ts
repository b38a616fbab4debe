/**
 * Routes other programs put at a taken key with `ip route append` (NLM_F_CREATE|
 * NLM_F_APPEND) or `ip route prepend` (NLM_F_CREATE), which kroute never sends: IPv4
 * keeps a second route at the key, after or before the others; IPv6 joins a gateway to
 * the key's multipath route, or keeps any other route beside it. And what kroute's own
 * ops then do: never overwrite or delete such a route. Each case checked with `ip` and
 * `ip monitor route` on Linux 6.18.
 */
import type { KernelChange, KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { routeAdd, routeDelete, routeReplace } from "./ops.ts";
import {
  expectErrno,
  expectOk,
  ip,
  MAIN,
  notificationBarrier,
  OTHER_PROTO,
  PROTO,
  prefix,
  recordChanges,
  TABLE,
  viaRoute,
} from "./support.ts";

/** A table's routes at one destination, in the dump's order (the kernel's), of every owner. */
async function routesAt(
  h: ConformanceHarness,
  family: 4 | 6,
  dst: string,
  table = TABLE,
): Promise<KernelRoute[]> {
  const snapshot = await h.dataplane.list({ families: [family], tables: [table] });
  return snapshot.routes.filter((route) => route.dst === dst);
}

/** Route notifications about one destination, in order, after a barrier. */
async function announced(
  h: ConformanceHarness,
  recorder: { readonly changes: KernelChange[]; stop(): void },
  dst: string,
): Promise<[string, KernelRoute][]> {
  await notificationBarrier(h, recorder.changes);
  recorder.stop();
  return recorder.changes.flatMap((change): [string, KernelRoute][] =>
    change.kind === "route" && change.route.dst === dst ? [[change.action, change.route]] : [],
  );
}

export function appendedRouteConformance(harness: () => ConformanceHarness): void {
  describe("routes appended or prepended by other programs", () => {
    describe("IPv4", () => {
      const dst = "192.0.2.0/24";
      const first = viaRoute(dst, [["10.10.0.2", "kr0"]]);
      const appended = viaRoute(dst, [["10.10.0.3", "kr0"]], { protocol: OTHER_PROTO });
      const prepended = viaRoute(dst, [["10.11.0.2", "kr1"]], { protocol: OTHER_PROTO });

      it("append puts a second route after those at the key, prepend before; lookups take the first", async () => {
        const h = harness();
        // In main: the netlink driver looks flows up through the rules alone.
        const inMain = (route: KernelRoute): KernelRoute => ({ ...route, table: MAIN });
        const recorder = recordChanges(h);
        expectOk(await h.dataplane.apply([routeAdd(inMain(first))]));
        expectOk([await h.othersRouteRequest(inMain(appended), "append")]);
        expect(await routesAt(h, 4, dst, MAIN)).toEqual([inMain(first), inMain(appended)]);
        expectOk([await h.othersRouteRequest(inMain(prepended), "prepend")]);
        expect(await routesAt(h, 4, dst, MAIN)).toEqual([inMain(prepended), inMain(first), inMain(appended)]);
        const result = await h.dataplane.lookup({ dst: ip("192.0.2.9") });
        expect(result).toMatchObject({ ok: true, dst: prefix(dst), gateway: ip("10.11.0.2"), dev: "kr1" });
        expect(await announced(h, recorder, dst)).toEqual([
          ["new", inMain(first)],
          ["new", inMain(appended)],
          ["new", inMain(prepended)],
        ]);
      });

      it("a route just like one at the key is EEXIST; another owner's through the same gateway is not", async () => {
        const h = harness();
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        expectErrno(await h.othersRouteRequest(first, "append"), "EEXIST");
        expectErrno(await h.othersRouteRequest(first, "prepend"), "EEXIST");
        const same = { ...first, protocol: OTHER_PROTO };
        expectOk([await h.othersRouteRequest(same, "append")]);
        expect(await routesAt(h, 4, dst)).toEqual([first, same]);
      });

      it("kroute's delete takes its own route at the key, past another's that comes first", async () => {
        const h = harness();
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        expectOk([await h.othersRouteRequest(prepended, "prepend")]);
        expectOk(await h.dataplane.apply([routeDelete(first)]));
        expect(await routesAt(h, 4, dst)).toEqual([prepended]);
        expectErrno((await h.dataplane.apply([routeDelete(first)]))[0], "ESRCH");
      });

      it("kroute's in-place replace is refused while another's route leads its key, and taken once it follows", async () => {
        const h = harness();
        const moved = viaRoute(dst, [["10.10.0.4", "kr0"]]);
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        expectOk([await h.othersRouteRequest(prepended, "prepend")]);
        const [refused] = await h.dataplane.apply([routeReplace(first, moved)]);
        expectErrno(refused, "EEXIST");
        expect(await routesAt(h, 4, dst)).toEqual([prepended, first]);
        expectOk(await h.dataplane.apply([routeDelete(prepended)]));
        expectOk([await h.othersRouteRequest(appended, "append")]);
        expectOk(await h.dataplane.apply([routeReplace(first, moved)]));
        expect(await routesAt(h, 4, dst)).toEqual([moved, appended]);
      });

      it("`ip route change` of a key with several routes changes the first", async () => {
        const h = harness();
        const changed = viaRoute(dst, [["10.10.0.5", "kr0"]], { protocol: OTHER_PROTO });
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        expectOk([await h.othersRouteRequest(appended, "append")]);
        // Just like the first: done, nothing changes; just like a later one: EEXIST.
        expectOk([await h.othersRouteRequest(first, "change")]);
        expectErrno(await h.othersRouteRequest(appended, "change"), "EEXIST");
        expectOk([await h.othersRouteRequest(changed, "change")]);
        expect(await routesAt(h, 4, dst)).toEqual([changed, appended]);
      });
    });

    describe("IPv6", () => {
      const dst = "2001:db8:1::/64";
      const first = viaRoute(dst, [["fd10::2", "kr0"]]);

      it("a gateway appended or prepended joins the key's route as a nexthop, announced in the appender's name", async () => {
        const h = harness();
        const recorder = recordChanges(h);
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        const joined = viaRoute(dst, [["fd10::3", "kr0"]], { protocol: OTHER_PROTO });
        expectOk([await h.othersRouteRequest(joined, "append")]);
        expectOk([await h.othersRouteRequest(viaRoute(dst, [["fd11::2", "kr1"]]), "prepend")]);
        // Dumped as one multipath route of the first route's owner, in the order they came.
        const multipath = viaRoute(dst, [
          ["fd10::2", "kr0"],
          ["fd10::3", "kr0"],
          ["fd11::2", "kr1"],
        ]);
        expect(await routesAt(h, 6, dst)).toEqual([multipath]);
        expect(await announced(h, recorder, dst)).toEqual([
          ["new", first],
          [
            "new",
            viaRoute(
              dst,
              [
                ["fd10::3", "kr0"],
                ["fd10::2", "kr0"],
              ],
              { protocol: OTHER_PROTO },
            ),
          ],
          [
            "new",
            viaRoute(dst, [
              ["fd11::2", "kr1"],
              ["fd10::2", "kr0"],
              ["fd10::3", "kr0"],
            ]),
          ],
        ]);
      });

      it("several gateways appended at once join the key's route, announced as the joined route", async () => {
        const h = harness();
        const recorder = recordChanges(h);
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        const theirs = viaRoute(
          dst,
          [
            ["fd10::3", "kr0"],
            ["fd11::2", "kr1"],
          ],
          { protocol: OTHER_PROTO },
        );
        expectOk([await h.othersRouteRequest(theirs, "append")]);
        const joined = viaRoute(dst, [
          ["fd10::2", "kr0"],
          ["fd10::3", "kr0"],
          ["fd11::2", "kr1"],
        ]);
        expect(await routesAt(h, 6, dst)).toEqual([joined]);
        expect(await announced(h, recorder, dst)).toEqual([
          ["new", first],
          ["new", joined],
        ]);
      });

      it("kroute's replace, and its delete, of its route take the gateways another program joined to it", async () => {
        // A multipath route has one owner to a request naming its key (README, "Other
        // programs' routes at kroute's keys"): kroute cannot leave a joined gateway.
        const h = harness();
        const theirs = viaRoute(dst, [["fd10::3", "kr0"]], { protocol: OTHER_PROTO });
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        expectOk([await h.othersRouteRequest(theirs, "append")]);
        const joined = viaRoute(dst, [
          ["fd10::2", "kr0"],
          ["fd10::3", "kr0"],
        ]);
        expect(await routesAt(h, 6, dst)).toEqual([joined]);
        expectOk(await h.dataplane.apply([routeReplace(joined, first)]));
        expect(await routesAt(h, 6, dst)).toEqual([first]);
        expectOk([await h.othersRouteRequest(theirs, "append")]);
        expectOk(await h.dataplane.apply([routeDelete(joined)]));
        expect(await routesAt(h, 6, dst)).toEqual([]);
      });

      it("a nexthop any route of the key has is EEXIST, whoever appends it", async () => {
        const h = harness();
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        const again = { ...first, protocol: OTHER_PROTO };
        expectErrno(await h.othersRouteRequest(again, "append"), "EEXIST");
        expectErrno(await h.othersRouteRequest(again, "prepend"), "EEXIST");
        expect(await routesAt(h, 6, dst)).toEqual([first]);
      });

      it("a route not through inline gateways stands beside the key's route, after it", async () => {
        const h = harness();
        const device: KernelRoute = {
          ...first,
          protocol: OTHER_PROTO,
          target: { kind: "device", dev: "kr1" },
        };
        expectOk(await h.dataplane.apply([routeAdd(first)]));
        expectOk([await h.othersRouteRequest(device, "prepend")]);
        expect(await routesAt(h, 6, dst)).toEqual([first, device]);
        expectErrno(await h.othersRouteRequest(device, "append"), "EEXIST");
        // kroute's delete names its protocol: the other's route stays.
        expectOk(await h.dataplane.apply([routeDelete(first)]));
        expect(await routesAt(h, 6, dst)).toEqual([device]);
      });

      it("kroute's replace of its route through a nexthop object leaves a gateway appended beside it", async () => {
        const h = harness();
        const object = (id: number, gateway: string) =>
          ({
            object: "nexthop",
            action: "add",
            to: { kind: "gateway", id, family: 6, protocol: PROTO, gateway: ip(gateway), dev: "kr0" },
          }) as const;
        const viaObject: KernelRoute = { ...first, target: { kind: "nexthop-object", id: 21 } };
        const moved: KernelRoute = { ...first, target: { kind: "nexthop-object", id: 22 } };
        const theirs = viaRoute(dst, [["fd10::3", "kr0"]], { protocol: OTHER_PROTO });
        expectOk(
          await h.dataplane.apply([object(21, "fd10::2"), object(22, "fd10::4"), routeAdd(viaObject)]),
        );
        expectOk([await h.othersRouteRequest(theirs, "append")]);
        expect(await routesAt(h, 6, dst)).toEqual([viaObject, theirs]);
        expectOk(await h.dataplane.apply([routeReplace(viaObject, moved)]));
        expect(await routesAt(h, 6, dst)).toEqual([moved, theirs]);
      });
    });
  });
}
