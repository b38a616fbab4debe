import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTopology, type Topology } from "../src/topology.ts";
import { sendUdpFlows, startUdpEcho } from "../src/udp-flows.ts";

/** One ping from the node namespace; true when answered within a second. */
async function pings(topology: Topology, target: string): Promise<boolean> {
  try {
    await topology.node.exec("ping", ["-c", "1", "-W", "1", "-q", target]);
    return true;
  } catch {
    return false;
  }
}

describeAsRoot("gateway topology", () => {
  let topology: Topology;
  beforeAll(async () => {
    topology = await createTopology();
  });
  afterAll(async () => {
    await topology?.destroy();
  });

  it("reaches the destination through each gateway, both families (needs forwarding and masquerade)", async () => {
    expect(topology.gateways.map((g) => g.v4)).toEqual([
      "192.0.2.11",
      "192.0.2.12",
      "192.0.2.13",
      "192.0.2.14",
    ]);
    for (const gateway of topology.gateways) {
      await topology.node.ip("route", "replace", topology.destinationV4, "via", gateway.v4);
      await topology.node.ip("-6", "route", "replace", topology.destinationV6, "via", gateway.v6);
      expect(await pings(topology, topology.targetV4)).toBe(true);
      expect(await pings(topology, topology.targetV6)).toBe(true);
    }
  });

  it("kills a gateway by dropping its traffic, link up, and recovers it", async () => {
    await topology.node.ip("route", "replace", topology.destinationV4, "via", topology.gateways[0]!.v4);
    await topology.kill(1);
    expect(topology.isKilled(1)).toBe(true);
    expect(await pings(topology, topology.targetV4)).toBe(false);
    expect(await pings(topology, topology.gateways[0]!.v4)).toBe(false);
    const links = await topology.gateways[0]!.ns.ipJson<{ ifname: string; operstate: string }[]>(
      "link",
      "show",
      "lan",
    );
    expect(links[0]?.operstate).toBe("UP");
    // The other gateways are unaffected.
    await topology.node.ip("route", "replace", topology.destinationV4, "via", topology.gateways[1]!.v4);
    expect(await pings(topology, topology.targetV4)).toBe(true);

    await topology.recover(1);
    await topology.recover(1); // idempotent
    await topology.node.ip("route", "replace", topology.destinationV4, "via", topology.gateways[0]!.v4);
    expect(await pings(topology, topology.targetV4)).toBe(true);
  });

  it("kills a gateway from a given second of the kernel's clock, not when its rules were loaded", async () => {
    await topology.node.ip("route", "replace", topology.destinationV4, "via", topology.gateways[0]!.v4);
    const diesAt = Math.ceil((Date.now() + 3000) / 1000) * 1000;
    await topology.killAt(1, diesAt);
    expect(topology.isKilled(1)).toBe(true);
    try {
      expect(await pings(topology, topology.targetV4)).toBe(true);
      expect(Date.now()).toBeLessThan(diesAt);
      await new Promise((resolve) => setTimeout(resolve, diesAt - Date.now()));
      expect(await pings(topology, topology.targetV4)).toBe(false);
    } finally {
      await topology.recover(1);
    }
    expect(await pings(topology, topology.targetV4)).toBe(true);
  });

  it("given an end, answers again from that second of the kernel's clock, and counts as killed until recovered", async () => {
    await topology.node.ip("route", "replace", topology.destinationV4, "via", topology.gateways[0]!.v4);
    const diesAt = Math.floor(Date.now() / 1000) * 1000;
    const recoversAt = diesAt + 5000;
    await topology.killAt(1, diesAt, recoversAt);
    try {
      expect(await pings(topology, topology.targetV4)).toBe(false);
      expect(Date.now()).toBeLessThan(recoversAt);
      await new Promise((resolve) => setTimeout(resolve, recoversAt - Date.now()));
      expect(await pings(topology, topology.targetV4)).toBe(true);
      expect(topology.isKilled(1)).toBe(true);
    } finally {
      await topology.recover(1);
    }
    expect(topology.isKilled(1)).toBe(false);
  });

  it("refuses a kill that ends at or before it begins, or at no whole second, naming the value", async () => {
    await expect(topology.killAt(1, 1_796_670_000_000, 1_796_670_000_000)).rejects.toThrow(
      "dropEverythingFrom: untilMs must be after atMs (1796670000000), got 1796670000000",
    );
    await expect(topology.killAt(1, 1_796_670_000_000, 1_796_670_001_500)).rejects.toThrow(
      "dropEverythingFrom: untilMs must be a whole second since the epoch, got 1796670001500",
    );
    expect(topology.isKilled(1)).toBe(false);
  });

  it("refuses to kill a gateway from a time that is not a whole second, naming it", async () => {
    await expect(topology.killAt(1, 1_796_670_000_500)).rejects.toThrow(
      "dropEverythingFrom: atMs must be a whole second since the epoch, got 1796670000500",
    );
    expect(topology.isKilled(1)).toBe(false);
  });

  it("carries UDP flows through the gateways, and the echo names the gateway each flow took", async () => {
    const server = await startUdpEcho(topology.dst, topology.targetV4, 7007);
    try {
      await topology.node.exec("sysctl", ["-q", "-w", "net.ipv4.fib_multipath_hash_policy=1"]);
      const hops = topology.gateways.flatMap((g) => ["nexthop", "via", g.v4]);
      await topology.node.ip("route", "replace", topology.destinationV4, ...hops);
      // Ends once all 64 are answered; the long wait only bounds a slow echo on a loaded machine.
      const result = await sendUdpFlows(topology.node, topology.targetV4, 7007, {
        count: 64,
        timeoutMs: 20_000,
      });
      expect(result.sent).toBe(64);
      expect(result.answered).toBe(64);
      const wans: string[] = topology.gateways.map((g) => g.wanV4);
      expect(Object.keys(result.via).every((seen) => wans.includes(seen))).toBe(true);
      // Layer-4 hashing spreads 64 flows over more than one gateway.
      expect(Object.keys(result.via).length).toBeGreaterThan(1);

      await topology.kill(1);
      const lossy = await sendUdpFlows(topology.node, topology.targetV4, 7007, { count: 64, timeoutMs: 500 });
      expect(lossy.answered).toBeLessThan(64);
      expect(lossy.via[topology.gateways[0]!.wanV4]).toBeUndefined();
    } finally {
      await topology.recover(1);
      await server.stop();
    }
  });

  it("refuses an unknown gateway index by name", async () => {
    await expect(topology.kill(9)).rejects.toThrow(/no gateway 9/);
  });

  it("destroys every namespace", async () => {
    const names = [topology.node, topology.lan, topology.dst, ...topology.gateways.map((g) => g.ns)].map(
      (n) => n.name,
    );
    await topology.destroy();
    const { execFileSync } = await import("node:child_process");
    const listed = execFileSync("ip", ["netns", "list"]).toString();
    for (const name of names) expect(listed).not.toContain(name);
  });
});
