/**
 * An address removed, as Linux 6.18 does it (checked with `ip monitor` on veth pairs):
 * its connected route goes, announced, and so do main's IPv4 routes it was the source
 * of. A link's last IPv4 address taken, IPv4 is disabled there: every IPv4 route whose
 * inline nexthops all leave through it goes, in any table, and nothing says so; a
 * multipath route through another link too keeps it, its nexthop on the link dead,
 * until an address comes back. Nexthop objects and IPv6 routes stay. Table local's
 * routes for the address come and go too; the fake holds none, and no case looks.
 */
import type { KernelChange, KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { nexthopAdd, routeAdd } from "./ops.ts";
import {
  canonicalRoute,
  eventually,
  expectOk,
  gatewayNexthop,
  ip,
  MAIN,
  nexthopRoute,
  notificationBarrier,
  ourNexthops,
  ourRoutes,
  PROTO,
  recordChanges,
  sortRoutes,
  viaRoute,
} from "./support.ts";

const RTPROT_KERNEL = 2;
const KR1_V4 = ip("10.11.0.1");

const nexthopV4 = gatewayNexthop(1, "10.11.0.2", "kr1");
const nexthopV6 = gatewayNexthop(2, "fd11::2", "kr1");
const viaNexthopV4 = nexthopRoute("198.51.100.0/24", 1);
const viaNexthopV6 = nexthopRoute("2001:db8:7::/64", 2);
const single = viaRoute("198.18.1.0/24", [["10.11.0.2", "kr1"]]);
const singleMain = viaRoute("198.18.2.0/24", [["10.11.0.2", "kr1"]], { table: MAIN });
const multipathOnKr1 = viaRoute("198.18.3.0/24", [
  ["10.11.0.2", "kr1"],
  ["10.11.0.3", "kr1"],
]);
const multipathTwoLinks = viaRoute(
  "198.18.0.0/24",
  [
    ["10.10.0.2", "kr0"],
    ["10.11.0.2", "kr1"],
  ],
  { table: MAIN },
);
const device: KernelRoute = {
  ...viaRoute("198.18.4.0/24", []),
  scope: 253,
  target: { kind: "device", dev: "kr1" },
};
/** Through kr0 but from kr1's address: main's goes with the address, table 100's stays. */
const fromKr1Main: KernelRoute = {
  ...viaRoute("198.18.5.0/24", [["10.10.0.2", "kr0"]], { table: MAIN }),
  prefsrc: KR1_V4,
};
const fromKr1: KernelRoute = { ...viaRoute("198.18.5.0/24", [["10.10.0.2", "kr0"]]), prefsrc: KR1_V4 };
const v6 = viaRoute("2001:db8:2::/64", [["fd11::2", "kr1"]]);

async function build(h: ConformanceHarness): Promise<void> {
  expectOk(
    await h.dataplane.apply([
      nexthopAdd(nexthopV4),
      nexthopAdd(nexthopV6),
      routeAdd(viaNexthopV4),
      routeAdd(viaNexthopV6),
      routeAdd(single),
      routeAdd(singleMain),
      routeAdd(multipathOnKr1),
      routeAdd(multipathTwoLinks),
      routeAdd(device),
      routeAdd(fromKr1Main),
      routeAdd(fromKr1),
      routeAdd(v6),
    ]),
  );
}

/** The route with kr1's inline nexthops flagged linkdown (Linux: `dead linkdown`). */
function deadOnKr1(route: KernelRoute): KernelRoute {
  if (route.target.kind !== "gateways") return route;
  const nexthops = route.target.nexthops.map((nexthop) =>
    nexthop.dev === "kr1" ? { ...nexthop, linkdown: true as const } : nexthop,
  );
  return canonicalRoute({ ...route, target: { kind: "gateways", nexthops } });
}

/** What was said about addresses and routes, but table local's (which the fake does not hold). */
function said(changes: readonly KernelChange[]): string[] {
  return changes.flatMap((change) => {
    if (change.kind === "address") return [`address ${change.action} ${change.address.ip}`];
    if (change.kind !== "route" || change.route.table === 255 || change.route.dst === MARKER_DST) return [];
    const owner = change.route.protocol === PROTO ? "ours" : `proto ${change.route.protocol}`;
    return [`route ${change.action} ${change.route.dst} table ${change.route.table} ${owner}`];
  });
}

/** notificationBarrier's marker route. */
const MARKER_DST = "192.0.2.254/32";

/** Removes an address and waits until everything it caused has been announced. */
async function removeAndListen(
  h: ConformanceHarness,
  dev: string,
  address: string,
  prefixLength: number,
): Promise<string[]> {
  const recorder = recordChanges(h);
  await h.host.removeAddress(dev, ip(address), prefixLength);
  await notificationBarrier(h, recorder.changes);
  recorder.stop();
  return said(recorder.changes);
}

/** The gateways flows to 32 addresses of the two-link multipath route take (the hash is of addresses alone). */
async function multipathGateways(h: ConformanceHarness): Promise<string[]> {
  const answers = new Set<string>();
  for (let host = 1; host <= 32; host++) {
    const result = await h.dataplane.lookup({ dst: ip(`198.18.0.${host}`) });
    answers.add(result.ok ? (result.gateway ?? "none") : `error ${result.code}`);
  }
  return [...answers].sort();
}

export function addressRemovalConformance(harness: () => ConformanceHarness): void {
  describe("address removal", () => {
    it("a link's last IPv4 address removed drops its IPv4 routes silently; multipath keeps a dead nexthop", async () => {
      const h = harness();
      await build(h);
      expect(await removeAndListen(h, "kr1", KR1_V4, 24)).toEqual([
        "address del 10.11.0.1",
        `route del 10.11.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL}`,
        `route del 198.18.5.0/24 table ${MAIN} ours`,
      ]);
      expect(await ourRoutes(h)).toEqual(
        sortRoutes([viaNexthopV4, viaNexthopV6, deadOnKr1(multipathTwoLinks), fromKr1, v6]),
      );
      expect(await ourNexthops(h)).toEqual([nexthopV4, nexthopV6]);
      // The dead nexthop carries no flow.
      expect(await multipathGateways(h)).toEqual(["10.10.0.2"]);
    });

    it("the address back brings the dead nexthop back, silently; the dropped routes stay gone", async () => {
      const h = harness();
      await build(h);
      await h.host.removeAddress("kr1", KR1_V4, 24);
      const recorder = recordChanges(h);
      await h.host.addAddress("kr1", KR1_V4, 24);
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      expect(said(recorder.changes)).toEqual([
        "address new 10.11.0.1",
        `route new 10.11.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL}`,
      ]);
      expect(await ourRoutes(h)).toEqual(
        sortRoutes([viaNexthopV4, viaNexthopV6, canonicalRoute(multipathTwoLinks), fromKr1, v6]),
      );
      expect(await multipathGateways(h)).toEqual(["10.10.0.2", "10.11.0.2"]);
    });

    it("a dead nexthop lives again when its link is set up; the route goes when its other link loses IPv4 too", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([routeAdd(multipathTwoLinks)]));
      await h.host.removeAddress("kr1", KR1_V4, 24);
      await h.host.setAdminUp("kr1", false);
      expect(await ourRoutes(h, [4])).toEqual([deadOnKr1(multipathTwoLinks)]);
      await h.host.setAdminUp("kr1", true);
      // Alive though kr1 has no IPv4 address; linkdown until Linux sees the carrier again.
      await eventually(
        async () => expect(await ourRoutes(h, [4])).toEqual([canonicalRoute(multipathTwoLinks)]),
        20_000,
      );
      await h.host.addAddress("kr1", KR1_V4, 24);
      await h.host.removeAddress("kr1", KR1_V4, 24);
      expect(await removeAndListen(h, "kr0", "10.10.0.1", 24)).toEqual([
        "address del 10.10.0.1",
        `route del 10.10.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL}`,
      ]);
      expect(await ourRoutes(h, [4])).toEqual([]);
    });

    it("one of a link's two IPv4 addresses removed takes its connected route and leaves every route", async () => {
      const h = harness();
      await h.host.addAddress("kr1", ip("10.12.0.1"), 24);
      await build(h);
      const before = await ourRoutes(h);
      expect(await removeAndListen(h, "kr1", "10.12.0.1", 24)).toEqual([
        "address del 10.12.0.1",
        `route del 10.12.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL}`,
      ]);
      expect(await ourRoutes(h)).toEqual(before);
      // Its source address is still there: main's route from it stays.
      expect(before).toContainEqual(fromKr1Main);
    });

    it("IPv6 addresses removed, the link-local one too, leave IPv6 routes through the link", async () => {
      const h = harness();
      await build(h);
      const linkLocalOfKr1 = async () =>
        (await h.dataplane.list({ families: [6] })).addresses.find(
          (address) => address.dev === "kr1" && address.ip.startsWith("fe80:"),
        );
      // Linux adds it when its link watch sees the carrier, past a second on a loaded machine.
      await eventually(async () => expect(await linkLocalOfKr1()).toBeDefined(), 20_000);
      const linkLocal = await linkLocalOfKr1();
      if (linkLocal === undefined) throw new Error("kr1 has no link-local address");
      expect(await removeAndListen(h, "kr1", "fd11::1", 64)).toEqual([
        "address del fd11::1",
        `route del fd11::/64 table ${MAIN} proto ${RTPROT_KERNEL}`,
      ]);
      expect(await removeAndListen(h, "kr1", linkLocal.ip, linkLocal.prefixLength)).toEqual([
        `address del ${linkLocal.ip}`,
        `route del fe80::/64 table ${MAIN} proto ${RTPROT_KERNEL}`,
      ]);
      expect(await ourRoutes(h, [6])).toEqual(sortRoutes([viaNexthopV6, v6]));
      expect(await ourNexthops(h)).toEqual([nexthopV4, nexthopV6]);
    });
  });
}
