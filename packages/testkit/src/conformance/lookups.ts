/**
 * `ip route get` answers: longest prefix, then metric, rules choosing tables, and
 * multipath selection by the flow hash. Hash values are the kernel's own, so only
 * properties are checked: determinism, spreading, and resilient groups keeping the
 * flows of surviving members where they were.
 */
import type { FlowQuery, KernelRoute, LookupResult } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { nexthopAdd, routeAdd, ruleAdd } from "./ops.ts";
import {
  expectErrno,
  expectOk,
  gatewayNexthop,
  groupNexthop,
  ip,
  MAIN,
  nexthopRoute,
  prefix,
  TABLE,
  viaRoute,
} from "./support.ts";

function gatewayOf(result: LookupResult): string | undefined {
  return result.ok ? result.gateway : `error ${result.code}`;
}

/** Flows that differ only by source port, as a client's connections do. */
function flows(dst: string, count: number): FlowQuery[] {
  return Array.from({ length: count }, (_, i) => ({
    dst: ip(dst),
    ipProto: 6,
    sport: 20000 + i,
    dport: 443,
  }));
}

async function gateways(
  h: ConformanceHarness,
  queries: readonly FlowQuery[],
): Promise<(string | undefined)[]> {
  const answers: (string | undefined)[] = [];
  for (const query of queries) answers.push(gatewayOf(await h.dataplane.lookup(query)));
  return answers;
}

export function lookupConformance(harness: () => ConformanceHarness): void {
  describe("lookups", () => {
    it("longest prefix wins, then the lowest metric", async () => {
      const h = harness();
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("198.51.100.0/24", [["10.10.0.2", "kr0"]], { table: MAIN, metric: 100 })),
          routeAdd(viaRoute("198.51.100.0/24", [["10.10.0.3", "kr0"]], { table: MAIN, metric: 50 })),
          routeAdd(viaRoute("198.51.100.128/25", [["10.11.0.2", "kr1"]], { table: MAIN, metric: 200 })),
          routeAdd(viaRoute("2001:db8:1::/48", [["fd10::2", "kr0"]], { table: MAIN })),
          routeAdd(viaRoute("2001:db8:1:1::/64", [["fd11::2", "kr1"]], { table: MAIN })),
        ]),
      );
      expect(await h.dataplane.lookup({ dst: ip("198.51.100.200") })).toEqual({
        ok: true,
        table: MAIN,
        dst: prefix("198.51.100.128/25"),
        gateway: ip("10.11.0.2"),
        dev: "kr1",
      });
      expect(await h.dataplane.lookup({ dst: ip("198.51.100.7") })).toEqual({
        ok: true,
        table: MAIN,
        dst: prefix("198.51.100.0/24"),
        gateway: ip("10.10.0.3"),
        dev: "kr0",
      });
      expect(gatewayOf(await h.dataplane.lookup({ dst: ip("2001:db8:1:1::9") }))).toBe("fd11::2");
      expect(gatewayOf(await h.dataplane.lookup({ dst: ip("2001:db8:1:2::9") }))).toBe("fd10::2");
    });

    it("connected destinations need no gateway; no route is ENETUNREACH", async () => {
      const h = harness();
      const connected = await h.dataplane.lookup({ dst: ip("10.11.0.9") });
      expect(connected).toEqual({ ok: true, table: MAIN, dst: prefix("10.11.0.0/24"), dev: "kr1" });
      expectErrno(await h.dataplane.lookup({ dst: ip("203.0.113.1") }), "ENETUNREACH");
      expectErrno(await h.dataplane.lookup({ dst: ip("2001:db8:ffff::1") }), "ENETUNREACH");
    });

    it("special routes answer with their errnos", async () => {
      const h = harness();
      const special = (dst: string, type: string): KernelRoute => ({
        family: 4,
        table: MAIN,
        dst: prefix(dst),
        metric: 0,
        protocol: 250,
        scope: 0,
        target: { kind: "special", type },
      });
      expectOk(
        await h.dataplane.apply([
          routeAdd(special("198.51.100.0/24", "blackhole")),
          routeAdd(special("198.51.101.0/24", "unreachable")),
          routeAdd(special("198.51.102.0/24", "prohibit")),
        ]),
      );
      expectErrno(await h.dataplane.lookup({ dst: ip("198.51.100.1") }), "EINVAL");
      expectErrno(await h.dataplane.lookup({ dst: ip("198.51.101.1") }), "EHOSTUNREACH");
      expectErrno(await h.dataplane.lookup({ dst: ip("198.51.102.1") }), "EACCES");
    });

    it("a source rule sends matching flows to its table", async () => {
      const h = harness();
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("0.0.0.0/0", [["10.10.0.2", "kr0"]], { table: MAIN })),
          routeAdd(viaRoute("0.0.0.0/0", [["10.11.0.2", "kr1"]], { table: TABLE })),
          {
            object: "rule",
            action: "add",
            to: { family: 4, priority: 1000, src: prefix("10.11.0.0/24"), table: TABLE, protocol: 250 },
          },
        ]),
      );
      const fromKr1 = await h.dataplane.lookup({ dst: ip("203.0.113.1"), src: ip("10.11.0.1") });
      expect(fromKr1).toMatchObject({ ok: true, table: TABLE, gateway: "10.11.0.2" });
      const fromKr0 = await h.dataplane.lookup({ dst: ip("203.0.113.1"), src: ip("10.10.0.1") });
      expect(fromKr0).toMatchObject({ ok: true, table: MAIN, gateway: "10.10.0.2" });
    });

    it("a rule with suppress_prefixlength passes over the table's short answers to the next rule", async () => {
      const h = harness();
      // The override as halves in main, a specific route in main, the original default
      // in the reply table; main first without its /1s and /0s, then the source rule.
      expectOk(
        await h.dataplane.apply([
          routeAdd(viaRoute("0.0.0.0/1", [["10.11.0.3", "kr1"]], { table: MAIN })),
          routeAdd(viaRoute("128.0.0.0/1", [["10.11.0.3", "kr1"]], { table: MAIN })),
          routeAdd(viaRoute("198.51.100.0/24", [["10.11.0.2", "kr1"]], { table: MAIN })),
          routeAdd(viaRoute("0.0.0.0/0", [["10.10.0.2", "kr0"]], { table: TABLE })),
          ruleAdd({ family: 4, priority: 1000, table: MAIN, protocol: 250, suppressPrefixLength: 1 }),
          ruleAdd({ family: 4, priority: 1001, src: prefix("10.10.0.1/32"), table: TABLE, protocol: 250 }),
        ]),
      );
      const from = ip("10.10.0.1");
      expect(await h.dataplane.lookup({ dst: ip("198.51.100.7"), src: from })).toMatchObject({
        ok: true,
        table: MAIN,
        gateway: "10.11.0.2",
      });
      expect(await h.dataplane.lookup({ dst: ip("203.0.113.1"), src: from })).toMatchObject({
        ok: true,
        table: TABLE,
        gateway: "10.10.0.2",
      });
      // A flow from elsewhere passes the source rule by, and main's halves take it.
      expect(await h.dataplane.lookup({ dst: ip("203.0.113.1") })).toMatchObject({
        ok: true,
        table: MAIN,
        gateway: "10.11.0.3",
      });
      const { rules } = await h.dataplane.list({ families: [4], protocols: [250] });
      expect(rules.find((rule) => rule.priority === 1000)).toEqual({
        family: 4,
        priority: 1000,
        table: MAIN,
        protocol: 250,
        suppressPrefixLength: 1,
      });
    });

    it("sets and reads the multipath hash policy per family", async () => {
      const h = harness();
      await h.dataplane.setMultipathHashPolicy(4, 1);
      await h.dataplane.setMultipathHashPolicy(6, 0);
      expect(await h.dataplane.getMultipathHashPolicy(4)).toBe(1);
      expect(await h.dataplane.getMultipathHashPolicy(6)).toBe(0);
    });

    for (const family of [4, 6] as const) {
      it(`IPv${family}: a multipath route spreads L4 flows over its gateways, each flow always the same`, async () => {
        const h = harness();
        await h.dataplane.setMultipathHashPolicy(family, 1);
        const [dst, target, a, b] =
          family === 4
            ? ["198.51.100.0/24", "198.51.100.10", "10.10.0.2", "10.11.0.2"]
            : ["2001:db8:4::/64", "2001:db8:4::10", "fd10::2", "fd11::2"];
        expectOk(
          await h.dataplane.apply([
            routeAdd(
              viaRoute(
                dst,
                [
                  [a, "kr0"],
                  [b, "kr1"],
                ],
                { table: MAIN },
              ),
            ),
          ]),
        );
        const queries = flows(target, 64);
        const first = await gateways(h, queries);
        expect(new Set(first)).toEqual(new Set([a, b]));
        expect(await gateways(h, queries)).toEqual(first);
      });
    }

    it("a resilient group keeps surviving members' flows in place when a member leaves", async () => {
      const h = harness();
      await h.dataplane.setMultipathHashPolicy(4, 1);
      const members = [
        gatewayNexthop(1, "10.10.0.2", "kr0"),
        gatewayNexthop(2, "10.10.0.3", "kr0"),
        gatewayNexthop(3, "10.11.0.2", "kr1"),
      ];
      const group = groupNexthop(100, [1, 2, 3], { buckets: 64, idleTimer: 120 });
      expectOk(
        await h.dataplane.apply([
          ...members.map(nexthopAdd),
          nexthopAdd(group),
          routeAdd(nexthopRoute("198.51.100.0/24", 100, { table: MAIN })),
        ]),
      );
      const queries = flows("198.51.100.10", 96);
      const before = await gateways(h, queries);
      expect(new Set(before)).toEqual(new Set(["10.10.0.2", "10.10.0.3", "10.11.0.2"]));
      const shrunk = groupNexthop(100, [1, 3], { buckets: 64, idleTimer: 120 });
      expectOk(await h.dataplane.apply([{ object: "nexthop", action: "replace", from: group, to: shrunk }]));
      const after = await gateways(h, queries);
      for (let i = 0; i < queries.length; i++) {
        if (before[i] !== "10.10.0.3") expect(after[i]).toBe(before[i]);
        else expect(["10.10.0.2", "10.11.0.2"]).toContain(after[i]);
      }
    });
  });
}
