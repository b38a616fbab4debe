import { createLinkLocalRouters, dropEverything, type LinkLocalRouters, stopDropping } from "@kroute/lab";
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
  let lan: LinkLocalRouters;
  let prober: IcmpProber;

  beforeAll(async () => {
    lan = await createLinkLocalRouters();
    prober = createIcmpProber({ netns: lan.node.name });
  });
  afterAll(async () => {
    prober?.close();
    await lan?.destroy();
  });

  it("goes out of the gateway's device, so a dead router there is seen dead beside a live one elsewhere", async () => {
    expect((await prober.echo(lan.address, 1000, "eth0")).ok).toBe(true);
    expect((await prober.echo(lan.address, 1000, "eth1")).ok).toBe(true);
    for (const dead of [0, 1] as const) {
      await dropEverything(lan.routers[dead]);
      try {
        expect(await prober.echo(lan.address, 300, `eth${dead}`)).toEqual({ ok: false, reason: "timeout" });
        expect((await prober.echo(lan.address, 1000, `eth${1 - dead}`)).ok).toBe(true);
      } finally {
        await stopDropping(lan.routers[dead]);
      }
    }
  });

  it("does the same on a ping socket, which refuses a link-local address without its device", async () => {
    await lan.node.exec("sysctl", ["-q", "-w", "net.ipv4.ping_group_range=0 0"]);
    const datagram = createIcmpProber({ netns: lan.node.name, socket: "datagram" });
    try {
      expect((await datagram.echo(lan.address, 1000, "eth1")).ok).toBe(true);
      await dropEverything(lan.routers[1]);
      try {
        expect(await datagram.echo(lan.address, 300, "eth1")).toEqual({ ok: false, reason: "timeout" });
      } finally {
        await stopDropping(lan.routers[1]);
      }
    } finally {
      datagram.close();
    }
  });

  it("fails naming the errno when the gateway's device does not exist", async () => {
    expect(await prober.echo(lan.address, 300, "eth9")).toEqual({ ok: false, reason: "ENODEV" });
  });
});
