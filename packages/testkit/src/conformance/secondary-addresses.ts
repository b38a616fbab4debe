/**
 * IPv4 secondary addresses, as Linux 6.18 keeps them (checked with `ip monitor all` on
 * veth pairs): a second address in a subnet on a link is secondary and makes no
 * connected route. Removing it takes main's routes from it. Removing the subnet's
 * primary, with promote_secondaries=0, takes the secondaries first, each announced
 * with main's routes from it; with =1, promotes the first secondary, announced anew,
 * and makes the connected route again from it. kr1 keeps 10.12.0.1/24 throughout, so
 * that IPv4 stays enabled there (address-removal.ts covers a link's last address).
 */
import type { Family, KernelChange, KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { routeAdd } from "./ops.ts";
import {
  expectErrno,
  expectOk,
  ip,
  MAIN,
  notificationBarrier,
  ourRoutes,
  PROTO,
  recordChanges,
  sortRoutes,
  viaRoute,
} from "./support.ts";

const RTPROT_KERNEL = 2;
const PRIMARY = "10.11.0.1";
const FIRST = "10.11.0.5";
const SECOND = "10.11.0.6";

function from(route: KernelRoute, src: string): KernelRoute {
  return { ...route, prefsrc: ip(src) };
}

const fromPrimary = from(viaRoute("198.18.1.0/24", [["10.11.0.2", "kr1"]], { table: MAIN }), PRIMARY);
const fromFirst = from(viaRoute("198.18.2.0/24", [["10.11.0.2", "kr1"]], { table: MAIN }), FIRST);
const fromSecond = from(viaRoute("198.18.3.0/24", [["10.11.0.2", "kr1"]], { table: MAIN }), SECOND);
/** Out of kr0, from kr1's secondary: it goes with the address all the same. */
const fromFirstViaKr0 = from(viaRoute("198.18.4.0/24", [["10.10.0.2", "kr0"]], { table: MAIN }), FIRST);
const plain = viaRoute("198.18.5.0/24", [["10.11.0.2", "kr1"]], { table: MAIN });
/** Table 100's routes from the addresses stay: only main's go with their source. */
const fromPrimaryTable = from(viaRoute("198.18.7.0/24", [["10.11.0.2", "kr1"]]), PRIMARY);
const fromFirstTable = from(viaRoute("198.18.8.0/24", [["10.11.0.2", "kr1"]]), FIRST);
const ALL = [fromPrimary, fromFirst, fromSecond, fromFirstViaKr0, plain, fromPrimaryTable, fromFirstTable];

/** kr1 with 10.12.0.1/24 and two secondaries beside 10.11.0.1/24, and routes from each. */
async function build(h: ConformanceHarness, promote: boolean): Promise<void> {
  await h.host.setPromoteSecondaries(promote);
  await h.host.addAddress("kr1", ip("10.12.0.1"), 24);
  await h.host.addAddress("kr1", ip(FIRST), 24);
  await h.host.addAddress("kr1", ip(SECOND), 24);
  expectOk(await h.dataplane.apply(ALL.map(routeAdd)));
}

/** The IPv4 addresses and routes announced, but table local's (which the fake does not hold). */
function said(changes: readonly KernelChange[]): string[] {
  const lines = changes.flatMap((change) => {
    if (change.kind === "address" && !change.address.ip.includes(":")) {
      const { ip: address, prefixLength } = change.address;
      return [`address ${change.action} ${address}/${prefixLength}`];
    }
    if (change.kind !== "route" || change.route.family !== 4) return [];
    const route = change.route;
    if (route.table === 255 || route.dst === "192.0.2.254/32") return [];
    const owner = route.protocol === PROTO ? "ours" : `proto ${route.protocol}`;
    const src = route.prefsrc === undefined ? "" : ` src ${route.prefsrc}`;
    return [`route ${change.action} ${route.dst} table ${route.table} ${owner}${src}`];
  });
  return inRunOrder(lines);
}

/**
 * The route lines between two address lines sorted: Linux flushes the routes from an
 * address in its trie's order (fib_table_flush), the fake in its own.
 */
function inRunOrder(lines: readonly string[]): string[] {
  const ordered: string[] = [];
  let run: string[] = [];
  for (const line of lines) {
    if (line.startsWith("route ")) {
      run.push(line);
      continue;
    }
    ordered.push(...run.sort(), line);
    run = [];
  }
  return [...ordered, ...run.sort()];
}

async function changeAndListen(h: ConformanceHarness, change: () => Promise<void>): Promise<string[]> {
  const recorder = recordChanges(h);
  await change();
  await notificationBarrier(h, recorder.changes);
  recorder.stop();
  return said(recorder.changes);
}

/** kr1's IPv4 addresses, sorted. */
async function addressesOfKr1(h: ConformanceHarness): Promise<string[]> {
  const snapshot = await h.dataplane.list({ families: [4] });
  return snapshot.addresses
    .filter((address) => address.dev === "kr1")
    .map((address) => `${address.ip}/${address.prefixLength}`)
    .sort();
}

/** kr1's connected routes (main, proto kernel), with their source, sorted. */
async function connectedOfKr1(h: ConformanceHarness): Promise<string[]> {
  const snapshot = await h.dataplane.list({ families: [4], tables: [MAIN], protocols: [RTPROT_KERNEL] });
  return snapshot.routes
    .filter((route) => route.target.kind === "device" && route.target.dev === "kr1")
    .map((route) => `${route.dst} src ${route.prefsrc}`)
    .sort();
}

function without(...gone: readonly KernelRoute[]): KernelRoute[] {
  return sortRoutes(ALL.filter((route) => !gone.includes(route)));
}

const families: readonly Family[] = [4];

export function secondaryAddressConformance(harness: () => ConformanceHarness): void {
  describe("IPv4 secondary addresses", () => {
    it("a second address in a subnet is announced alone: it makes no connected route", async () => {
      const h = harness();
      expect(await changeAndListen(h, () => h.host.addAddress("kr1", ip(FIRST), 24))).toEqual([
        `address new ${FIRST}/24`,
      ]);
      expect(await connectedOfKr1(h)).toEqual([`10.11.0.0/24 src ${PRIMARY}`]);
      // Another prefix length is another subnet: a primary, with its own route.
      expect(await changeAndListen(h, () => h.host.addAddress("kr1", ip("10.11.0.7"), 25))).toEqual([
        "address new 10.11.0.7/25",
        `route new 10.11.0.0/25 table ${MAIN} proto ${RTPROT_KERNEL} src 10.11.0.7`,
      ]);
    });

    it("a secondary removed takes main's routes from it, whatever their link, and nothing else", async () => {
      const h = harness();
      await build(h, false);
      expect(await changeAndListen(h, () => h.host.removeAddress("kr1", ip(FIRST), 24))).toEqual([
        `address del ${FIRST}/24`,
        `route del 198.18.2.0/24 table ${MAIN} ours src ${FIRST}`,
        `route del 198.18.4.0/24 table ${MAIN} ours src ${FIRST}`,
      ]);
      expect(await ourRoutes(h, families)).toEqual(without(fromFirst, fromFirstViaKr0));
      expect(await connectedOfKr1(h)).toEqual([`10.11.0.0/24 src ${PRIMARY}`, "10.12.0.0/24 src 10.12.0.1"]);
    });

    it("the primary removed with promote_secondaries=0 takes its secondaries first, each announced", async () => {
      const h = harness();
      await build(h, false);
      expect(await changeAndListen(h, () => h.host.removeAddress("kr1", ip(PRIMARY), 24))).toEqual([
        `address del ${FIRST}/24`,
        `route del 198.18.2.0/24 table ${MAIN} ours src ${FIRST}`,
        `route del 198.18.4.0/24 table ${MAIN} ours src ${FIRST}`,
        `address del ${SECOND}/24`,
        `route del 198.18.3.0/24 table ${MAIN} ours src ${SECOND}`,
        `address del ${PRIMARY}/24`,
        `route del 10.11.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL} src ${PRIMARY}`,
        `route del 198.18.1.0/24 table ${MAIN} ours src ${PRIMARY}`,
      ]);
      expect(await addressesOfKr1(h)).toEqual(["10.12.0.1/24"]);
      expect(await connectedOfKr1(h)).toEqual(["10.12.0.0/24 src 10.12.0.1"]);
      expect(await ourRoutes(h, families)).toEqual(
        without(fromPrimary, fromFirst, fromSecond, fromFirstViaKr0),
      );
      expectErrno(await h.dataplane.lookup({ dst: ip("10.11.0.9") }), "ENETUNREACH");
    });

    it("the primary removed with promote_secondaries=1 promotes the first secondary, the connected route made again from it", async () => {
      const h = harness();
      await build(h, true);
      expect(await changeAndListen(h, () => h.host.removeAddress("kr1", ip(PRIMARY), 24))).toEqual([
        `address del ${PRIMARY}/24`,
        `route del 10.11.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL} src ${PRIMARY}`,
        `route del 198.18.1.0/24 table ${MAIN} ours src ${PRIMARY}`,
        `address new ${FIRST}/24`,
        `route new 10.11.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL} src ${FIRST}`,
      ]);
      expect(await addressesOfKr1(h)).toEqual([`${FIRST}/24`, `${SECOND}/24`, "10.12.0.1/24"]);
      expect(await connectedOfKr1(h)).toEqual([`10.11.0.0/24 src ${FIRST}`, "10.12.0.0/24 src 10.12.0.1"]);
      expect(await ourRoutes(h, families)).toEqual(without(fromPrimary));
      expect(await h.dataplane.lookup({ dst: ip("10.11.0.9") })).toEqual({
        ok: true,
        table: MAIN,
        dst: "10.11.0.0/24",
        dev: "kr1",
      });

      // The promoted address is the primary now: removed, it promotes the next, and
      // takes main's routes from it.
      expect(await changeAndListen(h, () => h.host.removeAddress("kr1", ip(FIRST), 24))).toEqual([
        `address del ${FIRST}/24`,
        `route del 10.11.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL} src ${FIRST}`,
        `route del 198.18.2.0/24 table ${MAIN} ours src ${FIRST}`,
        `route del 198.18.4.0/24 table ${MAIN} ours src ${FIRST}`,
        `address new ${SECOND}/24`,
        `route new 10.11.0.0/24 table ${MAIN} proto ${RTPROT_KERNEL} src ${SECOND}`,
      ]);
      expect(await connectedOfKr1(h)).toEqual([`10.11.0.0/24 src ${SECOND}`, "10.12.0.0/24 src 10.12.0.1"]);
      expect(await ourRoutes(h, families)).toEqual(without(fromPrimary, fromFirst, fromFirstViaKr0));
    });
  });
}
