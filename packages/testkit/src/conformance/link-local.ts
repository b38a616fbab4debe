/**
 * IPv6 link-local addresses across a link's life, as Linux 6.18 does it with the
 * defaults (addr_gen_mode eui64, keep_addr_on_down 0; checked with `ip` on veth
 * pairs): a link that is up and has carrier gets one fe80::/64 address and the
 * connected route `fe80::/64 proto kernel metric 256`; one that is up without carrier
 * gets it only when carrier comes; carrier loss keeps it; administrative down drops
 * every IPv6 address of the link with its route, and up brings back the link-local
 * one only. Linux derives the address from the link's MAC (random on a veth), the
 * fake from its ifindex, so these cases compare its shape, never its value.
 */
import type { KernelAddress, KernelChange, KernelRoute } from "@kroute/core";
import { parsePrefix, prefixContains } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import {
  eventually,
  expectOk,
  MAIN,
  notificationBarrier,
  ourRoutes,
  prefix,
  recordChanges,
  viaRoute,
} from "./support.ts";

const LINK_LOCAL = prefix("fe80::/64");
const RTPROT_KERNEL = 2;

/** The connected route Linux gives a link-local address. */
function linkLocalRoute(dev: string): KernelRoute {
  return {
    family: 6,
    table: MAIN,
    dst: LINK_LOCAL,
    metric: 256,
    protocol: RTPROT_KERNEL,
    scope: 0,
    target: { kind: "device", dev },
  };
}

const isLinkLocal = (address: KernelAddress): boolean =>
  address.ip.includes(":") && prefixContains(LINK_LOCAL, address.ip);

/** A link's IPv6 addresses and the IPv6 routes of main straight out of it. */
async function ipv6Of(
  h: ConformanceHarness,
  dev: string,
): Promise<{ linkLocal: KernelAddress[]; others: string[]; routes: KernelRoute[] }> {
  const snapshot = await h.dataplane.list({ families: [6], tables: [MAIN] });
  const addresses = snapshot.addresses.filter((address) => address.dev === dev);
  return {
    linkLocal: addresses.filter(isLinkLocal),
    others: addresses.filter((address) => !isLinkLocal(address)).map((address) => address.ip),
    routes: snapshot.routes.filter(
      (route) =>
        route.protocol === RTPROT_KERNEL && route.target.kind === "device" && route.target.dev === dev,
    ),
  };
}

/** One link-local /64 on the link, with its connected route beside the link's other ones. */
async function expectLinkLocal(
  h: ConformanceHarness,
  dev: string,
  otherRoutes: string[],
): Promise<KernelAddress> {
  // Linux adds it when the link's carrier is seen on, which its link watch does some time
  // after the link goes up (past a second on a loaded machine); the fake, at once. Its
  // removal, on the way down, is immediate in both.
  let address: KernelAddress | undefined;
  await eventually(async () => {
    const seen = await ipv6Of(h, dev);
    expect(seen.linkLocal).toHaveLength(1);
    expect(seen.linkLocal[0]).toMatchObject({ prefixLength: 64, dev });
    expect(seen.routes.find((route) => route.dst === LINK_LOCAL)).toEqual(linkLocalRoute(dev));
    expect(seen.routes.map((route) => route.dst).sort()).toEqual([...otherRoutes, LINK_LOCAL].sort());
    address = seen.linkLocal[0];
  }, LINK_LOCAL_WAIT_MS);
  return address as KernelAddress;
}

/** Bounds the wait for a link-local address to appear: only a hang reaches it. */
const LINK_LOCAL_WAIT_MS = 20_000;

async function expectNoIpv6(h: ConformanceHarness, dev: string): Promise<void> {
  expect(await ipv6Of(h, dev)).toEqual({ linkLocal: [], others: [], routes: [] });
}

function ipv6Summary(change: KernelChange, dev: string): string[] {
  if (change.kind === "address" && change.address.dev === dev && change.address.ip.includes(":")) {
    return [`address ${change.action} ${isLinkLocal(change.address) ? "link-local" : change.address.ip}`];
  }
  if (
    change.kind === "route" &&
    change.route.family === 6 &&
    change.route.table === MAIN &&
    change.route.protocol === RTPROT_KERNEL &&
    change.route.target.kind === "device" &&
    change.route.target.dev === dev
  ) {
    return [`route ${change.action} ${change.route.dst}`];
  }
  return [];
}

export function linkLocalConformance(harness: () => ConformanceHarness): void {
  describe("IPv6 link-local addresses", () => {
    it("a link up with carrier has one fe80::/64 address and its connected route", async () => {
      const h = harness();
      for (const link of h.topology.links) {
        const network = parsePrefix(`${link.v6.ip}/${link.v6.prefixLength}`);
        if (!network.ok) throw new Error(network.error);
        await expectLinkLocal(h, link.name, [network.value]);
        expect((await ipv6Of(h, link.name)).others).toEqual([link.v6.ip]);
      }
    });

    it("administrative down drops every IPv6 address and route of the link; up brings back the link-local one only", async () => {
      const h = harness();
      const before = await expectLinkLocal(h, "kr1", ["fd11::/64"]);
      await h.host.setAdminUp("kr1", false);
      await expectNoIpv6(h, "kr1");
      await h.host.setAdminUp("kr1", true);
      // The same address again: Linux takes it from the MAC, the fake from the ifindex.
      expect(await expectLinkLocal(h, "kr1", [])).toEqual(before);
      expect((await ipv6Of(h, "kr1")).others).toEqual([]);
      // And a gateway in that network is taken through the link again.
      const route = viaRoute("2001:db8:77::/48", [["fe80::1", "kr1"]]);
      expectOk(await h.dataplane.apply([{ object: "route", action: "add", to: route }]));
      expect(await ourRoutes(h, [6])).toEqual([route]);
    });

    it("a link up without carrier gets it only when carrier comes; carrier loss keeps it", async () => {
      const h = harness();
      await h.host.setAdminUp("kr1", false);
      await h.host.setCarrier("kr1", false);
      await h.host.setAdminUp("kr1", true);
      await expectNoIpv6(h, "kr1");
      await h.host.setCarrier("kr1", true);
      const address = await expectLinkLocal(h, "kr1", []);
      await h.host.setCarrier("kr1", false);
      expect(await expectLinkLocal(h, "kr1", [])).toEqual(address);
    });

    it("each appearance and removal is announced", async () => {
      const h = harness();
      // Recorded only once Linux's link watch has seen the set-up's carrier (past a second
      // on a loaded machine): a run that recorded at once got one more "address new
      // fd11::1" than the down and up announce, under load only.
      await expectLinkLocal(h, "kr1", ["fd11::/64"]);
      const recorder = recordChanges(h);
      await h.host.setAdminUp("kr1", false);
      await h.host.setAdminUp("kr1", true);
      await eventually(() =>
        expect(recorder.changes.flatMap((change) => ipv6Summary(change, "kr1"))).toContain(
          "address new link-local",
        ),
      );
      await notificationBarrier(h, recorder.changes);
      recorder.stop();
      // Linux announces a link-local route before its address, the fake after: the order is not compared.
      expect(recorder.changes.flatMap((change) => ipv6Summary(change, "kr1")).sort()).toEqual([
        "address del fd11::1",
        "address del link-local",
        "address new link-local",
        "route del fd11::/64",
        "route del fe80::/64",
        "route new fe80::/64",
      ]);
    });
  });
}
