/**
 * Change notifications: one per change the caller makes, and, just as important
 * for a reconciler, the changes Linux makes WITHOUT telling anyone (nexthops
 * flushed with their device, IPv4 routes removed with a nexthop): a watcher only
 * learns of those from the link notification, and must resync.
 */
import type { KernelChange, KernelNexthop, KernelRoute, KernelRule } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import {
  eventually,
  expectOk,
  gatewayNexthop,
  groupNexthop,
  nexthopRoute,
  notificationBarrier,
  PROTO,
  prefix,
  recordChanges,
  TABLE,
  viaRoute,
} from "./support.ts";

const isOurs = (change: KernelChange): boolean =>
  (change.kind === "route" && change.route.protocol === PROTO && change.route.table !== 199) ||
  (change.kind === "nexthop" && change.nexthop.protocol === PROTO) ||
  (change.kind === "rule" && change.rule.protocol === PROTO);

function summary(change: KernelChange): string {
  switch (change.kind) {
    case "route":
      return `route ${change.action} ${change.route.dst} metric ${change.route.metric}`;
    case "nexthop":
      return `nexthop ${change.action} ${change.nexthop.id}`;
    case "rule":
      return `rule ${change.action} ${change.rule.priority}`;
    case "link":
      return `link ${change.action} ${change.link.name}`;
    case "address":
      return `address ${change.action} ${change.address.ip}`;
    case "overflow":
      return "overflow";
  }
}

export function notificationConformance(harness: () => ConformanceHarness): void {
  describe("notifications", () => {
    it("announces each route, nexthop and rule change, with the object", async () => {
      const h = harness();
      const recorder = recordChanges(h);
      const route = viaRoute("192.0.2.0/24", [["10.10.0.2", "kr0"]]);
      const moved = viaRoute("192.0.2.0/24", [["10.10.0.3", "kr0"]]);
      const nexthop: KernelNexthop = gatewayNexthop(1, "10.11.0.2", "kr1");
      const rule: KernelRule = {
        family: 4,
        priority: 1000,
        src: prefix("10.10.0.0/24"),
        table: TABLE,
        protocol: PROTO,
      };
      expectOk(
        await h.dataplane.apply([
          { object: "route", action: "add", to: route },
          { object: "route", action: "replace", from: route, to: moved },
          { object: "route", action: "delete", from: moved },
          { object: "nexthop", action: "add", to: nexthop },
          { object: "nexthop", action: "delete", from: nexthop },
          { object: "rule", action: "add", to: rule },
          { object: "rule", action: "delete", from: rule },
        ]),
      );
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      const ours = recorder.changes.filter(isOurs);
      expect(ours.map(summary)).toEqual([
        "route new 192.0.2.0/24 metric 100",
        "route new 192.0.2.0/24 metric 100",
        "route del 192.0.2.0/24 metric 100",
        "nexthop new 1",
        "nexthop del 1",
        "rule new 1000",
        "rule del 1000",
      ]);
      expect(ours[1]).toEqual({ kind: "route", action: "new", route: moved, replaced: true });
      expect(ours[3]).toEqual({ kind: "nexthop", action: "new", nexthop });
      expect(ours[5]).toEqual({ kind: "rule", action: "new", rule });
    });

    it("announces IPv6 route and rule changes too (their own multicast groups)", async () => {
      const h = harness();
      const recorder = recordChanges(h);
      const route = viaRoute("2001:db8:5::/48", [["fd10::2", "kr0"]]);
      const rule: KernelRule = {
        family: 6,
        priority: 1000,
        src: prefix("fd10::/64"),
        table: TABLE,
        protocol: PROTO,
      };
      expectOk(
        await h.dataplane.apply([
          { object: "route", action: "add", to: route },
          { object: "route", action: "delete", from: route },
          { object: "rule", action: "add", to: rule },
          { object: "rule", action: "delete", from: rule },
        ]),
      );
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      const ours = recorder.changes.filter(isOurs);
      expect(ours.map(summary)).toEqual([
        "route new 2001:db8:5::/48 metric 100",
        "route del 2001:db8:5::/48 metric 100",
        "rule new 1000",
        "rule del 1000",
      ]);
      expect(ours[0]).toEqual({ kind: "route", action: "new", route });
      expect(ours[2]).toEqual({ kind: "rule", action: "new", rule });
    });

    it("a replace with the route already there: IPv4 is done silently, IPv6 announces it again", async () => {
      const h = harness();
      const recorder = recordChanges(h);
      const v4 = viaRoute("192.0.2.0/24", [["10.10.0.2", "kr0"]]);
      const v6 = viaRoute("2001:db8:5::/48", [["fd10::2", "kr0"]]);
      expectOk(
        await h.dataplane.apply([
          { object: "route", action: "add", to: v4 },
          { object: "route", action: "replace", from: v4, to: v4 },
          { object: "route", action: "add", to: v6 },
          { object: "route", action: "replace", from: v6, to: v6 },
        ]),
      );
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      expect(recorder.changes.filter(isOurs).map(summary)).toEqual([
        "route new 192.0.2.0/24 metric 100",
        "route new 2001:db8:5::/48 metric 100",
        "route new 2001:db8:5::/48 metric 100",
      ]);
    });

    it("carrier loss is announced on the link only: the flushed nexthops and IPv4 routes go silently", async () => {
      const h = harness();
      const nexthop = gatewayNexthop(2, "10.11.0.2", "kr1");
      const route: KernelRoute = nexthopRoute("198.51.100.0/24", 2);
      expectOk(
        await h.dataplane.apply([
          { object: "nexthop", action: "add", to: nexthop },
          { object: "route", action: "add", to: route },
        ]),
      );
      const recorder = recordChanges(h);
      await h.host.setCarrier("kr1", false);
      await eventually(() =>
        expect(
          recorder.changes.some(
            (change) => change.kind === "link" && change.link.name === "kr1" && !change.link.carrier,
          ),
        ).toBe(true),
      );
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      expect(recorder.changes.filter(isOurs).map(summary)).toEqual([]);
      expect((await h.dataplane.list({ protocols: [PROTO] })).nexthops).toEqual([]);
    });

    it("replacing a nexthop re-announces the routes using it, through groups too (nexthop_compat_mode)", async () => {
      const h = harness();
      const a = gatewayNexthop(1, "10.10.0.2", "kr0");
      const b = gatewayNexthop(2, "10.11.0.2", "kr1");
      const group = groupNexthop(100, [1, 2]);
      expectOk(
        await h.dataplane.apply([
          { object: "nexthop", action: "add", to: a },
          { object: "nexthop", action: "add", to: b },
          { object: "nexthop", action: "add", to: group },
          { object: "route", action: "add", to: nexthopRoute("192.0.2.0/24", 1) },
          { object: "route", action: "add", to: nexthopRoute("192.0.3.0/24", 100) },
          { object: "route", action: "add", to: nexthopRoute("192.0.4.0/24", 2) },
        ]),
      );
      const recorder = recordChanges(h);
      const moved = gatewayNexthop(1, "10.10.0.3", "kr0");
      expectOk(await h.dataplane.apply([{ object: "nexthop", action: "replace", from: a, to: moved }]));
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      const ours = recorder.changes.filter(isOurs).map(summary);
      expect(ours[0]).toBe("nexthop new 1");
      expect(ours.slice(1).sort()).toEqual([
        "route new 192.0.2.0/24 metric 100",
        "route new 192.0.3.0/24 metric 100",
      ]);
      // Flagged NLM_F_REPLACE, as a replace of each route would be.
      const routes = recorder.changes.filter((change) => change.kind === "route" && isOurs(change));
      expect(routes.map((change) => change.kind === "route" && change.replaced)).toEqual([true, true]);
    });

    it("deleting a nexthop announces IPv6 route removals but not IPv4 ones", async () => {
      const h = harness();
      const v4 = nexthopRoute("198.51.100.0/24", 3);
      const v6 = nexthopRoute("2001:db8:8::/64", 6);
      const a = gatewayNexthop(3, "10.10.0.2", "kr0");
      const a6 = gatewayNexthop(6, "fd10::2", "kr0");
      expectOk(
        await h.dataplane.apply([
          { object: "nexthop", action: "add", to: a },
          { object: "nexthop", action: "add", to: a6 },
          { object: "route", action: "add", to: v4 },
          { object: "route", action: "add", to: v6 },
        ]),
      );
      const recorder = recordChanges(h);
      expectOk(
        await h.dataplane.apply([
          { object: "nexthop", action: "delete", from: a },
          { object: "nexthop", action: "delete", from: a6 },
        ]),
      );
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      expect(recorder.changes.filter(isOurs).map(summary)).toEqual([
        "nexthop del 3",
        "nexthop del 6",
        "route del 2001:db8:8::/64 metric 100",
      ]);
    });
  });
}
