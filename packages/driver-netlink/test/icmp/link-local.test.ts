import type { IpAddr } from "@kroute/core";
import { createNetns, dropEverything, type Netns, stopDropping } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createIcmpProber, type IcmpProber } from "../../src/icmp/prober.ts";

/**
 * A node with two uplinks, each to its own router holding the same link-local address
 * fe80::1, as a cloud's IPv6 router on every interface is: a probe must reach the
 * router on the device the gateway's nexthop goes out of, not whichever fe80::/64
 * route the kernel happens to look at first.
 */
describeAsRoot("ICMPv6 echo to a link-local gateway", () => {
  const ROUTER = "fe80::1" as IpAddr;
  const namespaces: Netns[] = [];
  let node: Netns;
  let routers: Netns[];
  let prober: IcmpProber;

  beforeAll(async () => {
    const make = async (prefix: string) => {
      const ns = await createNetns(prefix);
      namespaces.push(ns);
      await ns.exec("sysctl", [
        "-q",
        "-w",
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
      ]);
      return ns;
    };
    node = await make("kr-node");
    routers = [await make("kr-r0"), await make("kr-r1")];
    for (const [i, router] of routers.entries()) {
      await node.ipBatch([
        `link add eth${i} type veth peer name lan netns ${router.name}`,
        `link set eth${i} up`,
      ]);
      await router.ipBatch([`addr add ${ROUTER}/64 dev lan nodad`, "link set lan up"]);
    }
    // Resolve both neighbours once: a first neighbour solicitation on a fresh veth is
    // occasionally lost (see the lab topology).
    await Promise.all(
      [0, 1].map((i) => node.exec("ping", ["-c", "1", "-W", "3", "-q", `${ROUTER}%eth${i}`])),
    );
    prober = createIcmpProber({ netns: node.name });
  });
  afterAll(async () => {
    prober?.close();
    await Promise.all(namespaces.map((ns) => ns.destroy()));
  });

  it("goes out of the gateway's device, so a dead router there is seen dead beside a live one elsewhere", async () => {
    expect((await prober.echo(ROUTER, 1000, "eth0")).ok).toBe(true);
    expect((await prober.echo(ROUTER, 1000, "eth1")).ok).toBe(true);
    for (const dead of [0, 1]) {
      await dropEverything(routers[dead]!);
      try {
        expect(await prober.echo(ROUTER, 300, `eth${dead}`)).toEqual({ ok: false, reason: "timeout" });
        expect((await prober.echo(ROUTER, 1000, `eth${1 - dead}`)).ok).toBe(true);
      } finally {
        await stopDropping(routers[dead]!);
      }
    }
  });

  it("does the same on a ping socket, which refuses a link-local address without its device", async () => {
    await node.exec("sysctl", ["-q", "-w", "net.ipv4.ping_group_range=0 0"]);
    const datagram = createIcmpProber({ netns: node.name, socket: "datagram" });
    try {
      expect((await datagram.echo(ROUTER, 1000, "eth1")).ok).toBe(true);
      await dropEverything(routers[1]!);
      try {
        expect(await datagram.echo(ROUTER, 300, "eth1")).toEqual({ ok: false, reason: "timeout" });
      } finally {
        await stopDropping(routers[1]!);
      }
    } finally {
      datagram.close();
    }
  });

  it("fails naming the errno when the gateway's device does not exist", async () => {
    expect(await prober.echo(ROUTER, 300, "eth9")).toEqual({ ok: false, reason: "ENODEV" });
  });
});
