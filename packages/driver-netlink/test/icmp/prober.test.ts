import { fileURLToPath } from "node:url";
import type { IpAddr } from "@kroute/core";
import { createTopology, type Topology } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createIcmpProber, type IcmpProber } from "../../src/icmp/prober.ts";

describeAsRoot("ICMP echo prober in a network namespace", () => {
  let topology: Topology;
  let prober: IcmpProber;
  const routedOnly: string[] = [];
  beforeAll(async () => {
    topology = await createTopology({ gateways: 2 });
    prober = createIcmpProber({
      netns: topology.node.name,
      onRoutedOnly: (reason) => routedOnly.push(reason),
    });
  });
  afterAll(async () => {
    prober?.close();
    await topology?.destroy();
  });

  it("measures the round trip to live gateways, IPv4 and IPv6, on raw sockets as root", async () => {
    for (const gateway of topology.gateways) {
      for (const address of [gateway.v4, gateway.v6]) {
        const result = await prober.echo(address, 1000);
        expect(result.ok).toBe(true);
        if (result.ok) expect(result.rttMs).toBeGreaterThan(0);
        if (result.ok) expect(result.rttMs).toBeLessThan(1000);
      }
    }
    expect(prober.socketKind(4)).toBe("raw");
    expect(prober.socketKind(6)).toBe("raw");
    expect(routedOnly).toEqual([]);
  });

  it("times out on a gateway that drops everything, and sees it again once recovered", async () => {
    await topology.kill(1);
    try {
      const started = performance.now();
      expect(await prober.echo(topology.gateways[0]!.v4, 200)).toEqual({ ok: false, reason: "timeout" });
      expect(performance.now() - started).toBeGreaterThanOrEqual(190);
      expect(await prober.echo(topology.gateways[0]!.v6, 200)).toEqual({ ok: false, reason: "timeout" });
      // The other gateway still answers meanwhile.
      expect((await prober.echo(topology.gateways[1]!.v4, 1000)).ok).toBe(true);
    } finally {
      await topology.recover(1);
    }
    expect((await prober.echo(topology.gateways[0]!.v4, 1000)).ok).toBe(true);
  });

  it("matches many concurrent probes to the right gateways while one is dead", async () => {
    await topology.kill(2);
    try {
      const targets = Array.from({ length: 40 }, (_, i) =>
        i % 2 === 0 ? topology.gateways[0]!.v4 : topology.gateways[1]!.v4,
      );
      const results = await Promise.all(targets.map((t) => prober.echo(t, 300)));
      for (const [i, result] of results.entries()) expect(result.ok).toBe(i % 2 === 0);
    } finally {
      await topology.recover(2);
    }
  });

  it("counts a reply that came in time while the event loop was blocked past the timeout", async () => {
    const probe = prober.echo(topology.gateways[0]!.v4, 50);
    const blockedUntil = performance.now() + 200;
    while (performance.now() < blockedUntil) {
      // busy: the reply arrives meanwhile, the timeout falls due before the socket is polled
    }
    const result = await probe;
    expect(result.ok).toBe(true);
  });

  it("does not take replies meant for another prober in the same namespace", async () => {
    const other = createIcmpProber({ netns: topology.node.name });
    try {
      const [mine, theirs] = await Promise.all([
        prober.echo(topology.gateways[0]!.v4, 1000),
        other.echo(topology.gateways[0]!.v4, 1000),
      ]);
      expect(mine.ok && theirs.ok).toBe(true);
    } finally {
      other.close();
    }
  });

  it("reaches a gateway on its own link even where a route sends its address through another gateway", async () => {
    // As a Route with a destination containing gw1's address, via gw2, would have it.
    const [gw1, gw2] = [topology.gateways[0]!, topology.gateways[1]!];
    await topology.node.ip("route", "add", `${gw1.v4}/32`, "via", gw2.v4, "proto", "249");
    await topology.kill(2);
    try {
      expect((await prober.echo(gw1.v4, 1000)).ok).toBe(true);
    } finally {
      await topology.recover(2);
      await topology.node.ip("route", "del", `${gw1.v4}/32`, "via", gw2.v4, "proto", "249");
    }
  });

  it("reaches an IPv6 gateway on its own link even where a route sends its address through another gateway", async () => {
    // A forwarding node (every Kubernetes node): a host, but not a router, skips a
    // route whose gateway's neighbour entry has failed, which would hide the detour.
    const [gw1, gw2] = [topology.gateways[0]!, topology.gateways[1]!];
    await topology.node.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
    await topology.node.ip("-6", "route", "add", `${gw1.v6}/128`, "via", gw2.v6, "proto", "249");
    await topology.kill(2);
    try {
      expect(await prober.echo(gw1.v6, 1000, topology.nodeDev)).toMatchObject({ ok: true });
    } finally {
      await topology.recover(2);
      await topology.node.ip("-6", "route", "del", `${gw1.v6}/128`, "via", gw2.v6, "proto", "249");
      await topology.node.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=0"]);
    }
  });

  it("has the kernel resolve such an IPv6 gateway it has no neighbour entry for, and then reaches it", async () => {
    const [gw1, gw2] = [topology.gateways[0]!, topology.gateways[1]!];
    await topology.node.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
    await topology.node.ip("-6", "route", "add", `${gw1.v6}/128`, "via", gw2.v6, "proto", "249");
    await topology.kill(2);
    try {
      await topology.node.ip("-6", "neigh", "del", gw1.v6, "dev", topology.nodeDev);
      // The first probe finds no address to send to, and has the kernel look for one.
      const results = [];
      for (let i = 0; i < 5 && !results.at(-1)?.ok; i++) {
        results.push(await prober.echo(gw1.v6, 300, topology.nodeDev));
      }
      expect(results.at(-1)).toMatchObject({ ok: true });
      expect(results.length).toBeLessThanOrEqual(2);
    } finally {
      await topology.recover(2);
      await topology.node.ip("-6", "route", "del", `${gw1.v6}/128`, "via", gw2.v6, "proto", "249");
      await topology.node.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=0"]);
    }
  });

  it("reaches an IPv6 gateway on its own link even where a route refuses its address", async () => {
    // Its nexthop's traffic goes out on the link whatever routes the gateway's address.
    const gw1 = topology.gateways[0]!;
    await topology.node.ip("-6", "route", "add", "unreachable", `${gw1.v6}/128`, "proto", "249");
    try {
      expect(await prober.echo(gw1.v6, 1000, topology.nodeDev)).toMatchObject({ ok: true });
    } finally {
      await topology.node.ip("-6", "route", "del", "unreachable", `${gw1.v6}/128`, "proto", "249");
    }
  });

  it("fails at once, naming the errno, when there is no route", async () => {
    expect(await prober.echo("203.0.113.200" as IpAddr, 1000)).toEqual({ ok: false, reason: "ENETUNREACH" });
  });

  it("uses ping sockets where asked, only inside ping_group_range, and says their IPv6 probes are routed only", async () => {
    const datagramRoutedOnly: string[] = [];
    const datagram = createIcmpProber({
      netns: topology.node.name,
      socket: "datagram",
      onRoutedOnly: (reason) => datagramRoutedOnly.push(reason),
    });
    try {
      await topology.node.exec("sysctl", ["-q", "-w", "net.ipv4.ping_group_range=1 0"]);
      await expect(datagram.echo(topology.gateways[0]!.v4, 1000)).rejects.toThrow(/ping_group_range/);
      await topology.node.exec("sysctl", ["-q", "-w", "net.ipv4.ping_group_range=0 0"]);
      const v4 = await datagram.echo(topology.gateways[0]!.v4, 1000);
      const v6 = await datagram.echo(topology.gateways[0]!.v6, 1000);
      expect([v4.ok, v6.ok]).toEqual([true, true]);
      expect(await datagram.echo(topology.gateways[1]!.v6, 1000)).toMatchObject({ ok: true });
      expect(datagram.socketKind(4)).toBe("datagram");
      // Once, when IPv6 probing started; IPv4's MSG_DONTROUTE works on ping sockets too.
      expect(datagramRoutedOnly).toEqual(["a ping socket (no CAP_NET_RAW) sends no on-link copy"]);
    } finally {
      datagram.close();
    }
  });

  it("falls back to a ping socket without CAP_NET_RAW, and says what to fix when that is refused too", async () => {
    const child = fileURLToPath(new URL("./unprivileged-echo.ts", import.meta.url));
    const echo = async (gateway: string) => {
      const { stdout } = await topology.node.exec("setpriv", [
        "--inh-caps=-net_raw",
        "--bounding-set=-net_raw",
        process.execPath,
        child,
        gateway,
      ]);
      return JSON.parse(stdout.trim()) as { kind?: string; ok?: boolean; error?: string };
    };
    await topology.node.exec("sysctl", ["-q", "-w", "net.ipv4.ping_group_range=0 0"]);
    expect(await echo(topology.gateways[0]!.v4)).toEqual({ kind: "datagram", ok: true });
    expect(await echo(topology.gateways[0]!.v6)).toEqual({ kind: "datagram", ok: true });
    await topology.node.exec("sysctl", ["-q", "-w", "net.ipv4.ping_group_range=1 0"]);
    expect((await echo(topology.gateways[0]!.v4)).error).toMatch(/ping_group_range.*CAP_NET_RAW.*EACCES/);
  });

  it("settles probes in flight as closed, and refuses bad input by name", async () => {
    const closing = createIcmpProber({ netns: topology.node.name });
    await topology.kill(1);
    try {
      const inFlight = closing.echo(topology.gateways[0]!.v4, 5000);
      closing.close();
      expect(await inFlight).toEqual({ ok: false, reason: "closed" });
    } finally {
      await topology.recover(1);
    }
    await expect(prober.echo("nope" as IpAddr, 100)).rejects.toThrow(/gateway is not an IP address: "nope"/);
    await expect(prober.echo(topology.gateways[0]!.v4, 0)).rejects.toThrow(
      /timeoutMs must be a positive number, got 0/,
    );
  });
});
