/**
 * Another program's blackhole nexthop (kroute writes none, but meets them at ids of its
 * range): dumped as opaque with its owner, held by Linux's rules on blackholes in groups,
 * and a route through one blackholes its traffic.
 */
import type { KernelNexthop } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { nexthopAdd, nexthopReplace, routeAdd } from "./ops.ts";
import {
  expectErrno,
  expectOk,
  gatewayNexthop,
  groupNexthop,
  ip,
  nexthopRoute,
  OTHER_PROTO,
} from "./support.ts";

const blackhole = (id: number): KernelNexthop => ({
  kind: "opaque",
  id,
  protocol: OTHER_PROTO,
  type: "blackhole",
});
const theirs = (nexthop: KernelNexthop): KernelNexthop => ({ ...nexthop, protocol: OTHER_PROTO });

async function othersNexthops(h: ConformanceHarness): Promise<KernelNexthop[]> {
  return [...(await h.dataplane.list({ protocols: [OTHER_PROTO] })).nexthops];
}

export function blackholeNexthopConformance(harness: () => ConformanceHarness): void {
  describe("others' blackhole nexthops", () => {
    it("needs the loopback up, and is dumped back as opaque with its owner", async () => {
      const h = harness();
      await h.host.setAdminUp("lo", false);
      const [down] = await h.dataplane.apply([nexthopAdd(blackhole(31))]);
      expectErrno(down, "ENETDOWN", "Device for nexthop is not up");
      await h.host.setAdminUp("lo", true);
      expectOk(await h.dataplane.apply([nexthopAdd(blackhole(31))]));
      expect(await othersNexthops(h)).toEqual([blackhole(31)]);
    });

    it("is a group's only member, never one of several; a member of several is not replaced by one", async () => {
      const h = harness();
      await h.host.setAdminUp("lo", true);
      const a = theirs(gatewayNexthop(32, "10.10.0.2", "kr0"));
      const b = theirs(gatewayNexthop(33, "10.11.0.2", "kr1"));
      expectOk(await h.dataplane.apply([nexthopAdd(blackhole(31)), nexthopAdd(a), nexthopAdd(b)]));
      const [several] = await h.dataplane.apply([nexthopAdd(theirs(groupNexthop(34, [31, 32])))]);
      expectErrno(several, "EINVAL", "Blackhole nexthop can not be used in a group with more than 1 path");
      expectOk(await h.dataplane.apply([nexthopAdd(theirs(groupNexthop(35, [31])))]));
      expectOk(await h.dataplane.apply([nexthopAdd(theirs(groupNexthop(36, [32, 33])))]));
      const [member] = await h.dataplane.apply([nexthopReplace(a, blackhole(32))]);
      expectErrno(
        member,
        "EINVAL",
        "Blackhole nexthop can not be a member of a group with more than one path",
      );
    });

    it("replaces a gateway a route goes through, and the route's traffic is then dropped", async () => {
      const h = harness();
      await h.host.setAdminUp("lo", true);
      const a = theirs(gatewayNexthop(32, "10.10.0.2", "kr0"));
      const route = nexthopRoute("198.51.100.0/24", 32, { protocol: OTHER_PROTO, table: 254 });
      expectOk(await h.dataplane.apply([nexthopAdd(a), routeAdd(route)]));
      expect(await h.dataplane.lookup({ dst: ip("198.51.100.7") })).toMatchObject({ gateway: "10.10.0.2" });
      expectOk(await h.dataplane.apply([nexthopReplace(a, blackhole(32))]));
      expectErrno(await h.dataplane.lookup({ dst: ip("198.51.100.7") }), "EINVAL");
    });
  });
}
