/**
 * Issue 5 end to end: kroute (rtnetlink driver, core, ICMP health tracker) in the
 * node namespace of a four-gateway topology, real traffic through the route.
 */
import { desiredTable } from "@kroute/core";
import {
  createTopology,
  describeAsRoot,
  sendUdpFlows,
  startUdpEcho,
  type Topology,
  type UdpEchoServer,
} from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FAST_PROBE_SETTINGS } from "../../src/health/presets.ts";
import { routeGateways, waitUntil } from "./kernel-view.ts";
import { type KrouteNode, routeObject, startKrouteNode } from "./kroute-node.ts";

const PORT = 7010;

describeAsRoot("gateway failover end to end (four gateways, fast probes)", () => {
  let topology: Topology;
  let node: KrouteNode;
  let echo: UdpEchoServer;
  let all4: string[];
  let all6: string[];

  beforeAll(async () => {
    topology = await createTopology();
    // IPv6 addresses survive the link flap of the repair test.
    await topology.node.exec("sysctl", ["-q", "-w", "net.ipv6.conf.eth0.keep_addr_on_down=1"]);
    echo = await startUdpEcho(topology.dst, topology.targetV4, PORT);
    all4 = topology.gateways.map((g) => g.v4).sort();
    all6 = topology.gateways.map((g) => g.v6).sort();
    node = await startKrouteNode({
      netns: topology.node.name,
      addresses: [
        { ip: topology.nodeV4, dev: topology.nodeDev, prefixLength: 24 },
        { ip: topology.nodeV6, dev: topology.nodeDev, prefixLength: 64 },
      ],
      routes: [
        routeObject(
          "egress",
          [topology.destinationV4, topology.destinationV6],
          topology.gateways.flatMap((g) => [g.v4, g.v6]),
        ),
      ],
      probe: FAST_PROBE_SETTINGS,
    });
  });
  afterAll(async () => {
    await node?.close();
    await echo?.stop();
    await topology?.destroy();
  });

  const gateways4 = () => routeGateways(topology.node, topology.destinationV4);
  const gateways6 = () => routeGateways(topology.node, topology.destinationV6);
  const flows = (firstPort: number) =>
    sendUdpFlows(topology.node, topology.targetV4, PORT, { count: 64, firstPort, timeoutMs: 1000 });

  it("programs one resilient group per gateway set, and a layer-4 multipath hash", async () => {
    await waitUntil(
      "both routes over four gateways",
      async () => (await gateways4()).length === 4 && (await gateways6()).length === 4,
    );
    expect(await gateways4()).toEqual(all4);
    expect(await gateways6()).toEqual(all6);
    expect(node.features.resilientGroups).toBe(true);
    const groups = (
      await topology.node.ipJson<{ type?: string; group?: unknown[] }[]>("nexthop", "show")
    ).filter((n) => n.group !== undefined);
    expect(groups.map((g) => [g.type, g.group?.length])).toEqual([
      ["resilient", 4],
      ["resilient", 4],
    ]);
    expect(await node.dataplane.getMultipathHashPolicy(4)).toBe(1);
    expect(await node.dataplane.getMultipathHashPolicy(6)).toBe(1);
    const result = await flows(21000);
    expect(result.answered).toBe(64);
  });

  it("takes a dead gateway out within a second, traffic keeps reaching the destination, and recovery puts it back", async () => {
    const dead = topology.gateways[0]!;
    await topology.kill(1);
    const tookMs = await waitUntil(
      "the dead gateway to leave both routes",
      async () => !(await gateways4()).includes(dead.v4) && !(await gateways6()).includes(dead.v6),
      5000,
    );
    expect(tookMs).toBeLessThan(1000);
    expect(await gateways4()).toEqual(all4.filter((g) => g !== dead.v4));
    const during = await flows(22000);
    expect(during.answered).toBe(64);
    expect(during.via[dead.wanV4]).toBeUndefined();

    await topology.recover(1);
    await waitUntil(
      "the recovered gateway to return",
      async () => (await gateways4()).length === 4 && (await gateways6()).length === 4,
      5000,
    );
    expect(await gateways4()).toEqual(all4);
    expect((await flows(23000)).answered).toBe(64);
    const probes = node.log
      .filter((e) => e.type === "probe/result" && e.gateway === dead.v4)
      .map((e) => e.type === "probe/result" && e.up);
    expect(probes.slice(-2)).toEqual([false, true]);
  });

  it("keeps all four when all four are dead (fail-static), and reports it", async () => {
    await Promise.all(topology.gateways.map((g) => topology.kill(g.index)));
    try {
      await waitUntil("every gateway reported down", async () =>
        desiredTable(node.state$.value).gateways.every((g) => g.state === "down"),
      );
      await node.idle();
      expect(await gateways4()).toEqual(all4);
      expect(await gateways6()).toEqual(all6);
      const outcome = desiredTable(node.state$.value).outcomes.find((o) => o.route === "egress");
      expect(outcome?.destinations.map((d) => [d.prefix, d.failStatic])).toEqual([
        [topology.destinationV4, true],
        [topology.destinationV6, true],
      ]);
    } finally {
      await Promise.all(topology.gateways.map((g) => topology.recover(g.index)));
    }
    await waitUntil("every gateway up again", async () =>
      desiredTable(node.state$.value).gateways.every((g) => g.state === "up"),
    );
    const outcome = desiredTable(node.state$.value).outcomes.find((o) => o.route === "egress");
    expect(outcome?.destinations.every((d) => d.failStatic !== true)).toBe(true);
    expect(await gateways4()).toEqual(all4);
  });

  it("re-creates the nexthops the kernel flushed with the link once the link returns", async () => {
    await topology.node.ip("link", "set", topology.nodeDev, "down");
    await waitUntil("the route to vanish with its nexthops", async () => (await gateways4()).length === 0);
    await topology.node.ip("link", "set", topology.nodeDev, "up");
    await waitUntil(
      "both routes over four gateways again",
      async () => (await gateways4()).length === 4 && (await gateways6()).length === 4,
      15_000,
    );
    expect(await gateways4()).toEqual(all4);
    expect(await gateways6()).toEqual(all6);
    expect(node.log.some((e) => e.type === "kernel/observed" && e.seq > 20)).toBe(true);
    expect((await flows(24000)).answered).toBe(64);
  });
});
