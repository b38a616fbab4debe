import type { IpAddr } from "@kroute/core";
import { createNetns, type Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  AF_NETLINK,
  close,
  deviceIndex,
  inNetns,
  NETLINK_ROUTE,
  SOCK_NONBLOCK,
  SOCK_RAW,
  socket,
} from "../../src/ffi.ts";
import { type NeighbourTable, neighbourTable } from "../../src/icmp/neighbour.ts";

describeAsRoot("IPv6 neighbour lookups through netlink", () => {
  let ns: Netns;
  let fd = -1;
  let table: NeighbourTable;
  let k0 = 0;
  let k1 = 0;
  beforeAll(async () => {
    ns = await createNetns();
    for (const dev of ["k0", "k1"]) {
      await ns.ipBatch([
        `link add ${dev} type veth peer name ${dev}p`,
        `link set ${dev} up`,
        `link set ${dev}p up`,
      ]);
    }
    await ns.ipBatch([
      "addr add 2001:db8:9::1/64 dev k0 nodad",
      "neigh add 2001:db8:9::2 lladdr 02:00:5e:10:00:02 dev k0 nud stale",
      "neigh add 2001:db8:9::3 dev k0 nud failed",
      "neigh add 2001:db8:9::4 dev k0 nud incomplete",
      "neigh add 2001:db8:9::5 lladdr 02:00:5e:10:00:05 dev k0 nud permanent",
    ]);
    fd = inNetns(ns.name, () => socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK, NETLINK_ROUTE));
    expect(fd).toBeGreaterThanOrEqual(0);
    [k0, k1] = [deviceIndex(fd, "k0"), deviceIndex(fd, "k1")];
    table = neighbourTable(fd);
  });
  afterAll(async () => {
    if (fd >= 0) close(fd);
    await ns?.destroy();
  });

  const entry = async (address: string, dev = "k0") => {
    const shown = await ns.ipJson<{ lladdr?: string; state?: string[] }[]>(
      "-6",
      "neigh",
      "show",
      address,
      "dev",
      dev,
    );
    return shown[0];
  };

  it("reads the link-layer address the kernel has for a neighbour, and has a stale one confirmed", async () => {
    const found = table.linkAddress("2001:db8:9::2" as IpAddr, k0);
    expect(found).toEqual({ ok: true, linkAddress: Uint8Array.from([0x02, 0x00, 0x5e, 0x10, 0x00, 0x02]) });
    // As a packet routed to it would: STALE becomes DELAY, and a unicast solicitation follows.
    expect((await entry("2001:db8:9::2"))?.state).toEqual(["DELAY"]);
  });

  it("leaves an administrator's permanent entry as it is", async () => {
    const found = table.linkAddress("2001:db8:9::5" as IpAddr, k0);
    expect(found).toEqual({ ok: true, linkAddress: Uint8Array.from([0x02, 0x00, 0x5e, 0x10, 0x00, 0x05]) });
    expect(await entry("2001:db8:9::5")).toMatchObject({ lladdr: "02:00:5e:10:00:05", state: ["PERMANENT"] });
  });

  it("says why not where there is no address, and has the kernel resolve a neighbour it has no entry for", async () => {
    expect(table.linkAddress("2001:db8:9::99" as IpAddr, k0)).toEqual({
      ok: false,
      reason: "no neighbour entry",
    });
    expect((await entry("2001:db8:9::99"))?.state).toEqual(["INCOMPLETE"]);
    expect(table.linkAddress("2001:db8:9::99" as IpAddr, k0)).toEqual({
      ok: false,
      reason: "no link-layer address (NUD state 0x1)",
    });
    expect(table.linkAddress("2001:db8:9::2" as IpAddr, k1)).toEqual({
      ok: false,
      reason: "no neighbour entry",
    });
    expect(table.linkAddress("2001:db8:9::3" as IpAddr, k0)).toEqual({
      ok: false,
      reason: "no link-layer address (NUD state 0x20)",
    });
    expect(table.linkAddress("2001:db8:9::4" as IpAddr, k0)).toEqual({
      ok: false,
      reason: "no link-layer address (NUD state 0x1)",
    });
  });

  it("keeps answering the right question after many lookups", () => {
    for (let i = 0; i < 200; i++) {
      expect(table.linkAddress("2001:db8:9::2" as IpAddr, k0).ok).toBe(true);
      expect(table.linkAddress("2001:db8:9::99" as IpAddr, k0).ok).toBe(false);
    }
  });
});
