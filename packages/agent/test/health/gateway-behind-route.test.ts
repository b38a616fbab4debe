/**
 * A gateway whose own address a Route sends through another gateway: its probes
 * must still go to it on its link, as its nexthop's traffic does, or it is reported
 * down whenever that other gateway is. The agent runtime in the node namespace of a
 * two-gateway topology, both families.
 */
import { desiredTable, type EngineEvent } from "@kroute/core";
import { createTopology, type Topology } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import type { Subscription } from "rxjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FAST_PROBE_SETTINGS } from "../../src/health/presets.ts";
import { type AgentInNetns, probeFlags, routeObject, startAgentInNetns } from "./agent-in-netns.ts";
import { waitUntil } from "./kernel-view.ts";

describeAsRoot("a gateway behind another gateway's Route, over real ICMP", () => {
  let topology: Topology;
  let node: AgentInNetns;
  const events: EngineEvent[] = [];
  let recording: Subscription | undefined;

  beforeAll(async () => {
    topology = await createTopology({ gateways: 2 });
    // A forwarding node, as every Kubernetes node is: a host that does not forward
    // skips a route whose gateway's neighbour entry has failed, hiding the detour.
    await topology.node.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
    const [gw1, gw2] = [topology.gateways[0]!, topology.gateways[1]!];
    node = await startAgentInNetns(
      topology.node.name,
      [
        routeObject("egress-v4", [topology.destinationV4], [gw1.v4]),
        routeObject("egress-v6", [topology.destinationV6], [gw1.v6]),
        routeObject("to-gw1-v4", [`${gw1.v4}/32`], [gw2.v4]),
        routeObject("to-gw1-v6", [`${gw1.v6}/128`], [gw2.v6]),
      ],
      probeFlags(FAST_PROBE_SETTINGS),
    );
    recording = node.agent.steps$.subscribe((step) => events.push(step.event));
  });
  afterAll(async () => {
    recording?.unsubscribe();
    await node?.stop();
    await topology?.destroy();
  });

  const stateOf = (gateway: string) =>
    desiredTable(node.agent.state()).gateways.find((g) => g.gateway === gateway)?.state;

  it("keeps it up while the gateway its address is routed through is dead", async () => {
    const [gw1, gw2] = [topology.gateways[0]!, topology.gateways[1]!];
    await waitUntil(
      "both gateways up",
      async () => [gw1.v4, gw1.v6, gw2.v4, gw2.v6].every((g) => stateOf(g) === "up"),
      5000,
    );
    const killedAt = events.length;
    await topology.kill(2);
    try {
      await waitUntil("gw2 down", async () => stateOf(gw2.v4) === "down" && stateOf(gw2.v6) === "down", 5000);
      // Ten probe intervals more: five times what takes gw1 down were its probes lost.
      await new Promise((resolve) => setTimeout(resolve, 10 * FAST_PROBE_SETTINGS.intervalMs));
      const gw1Verdicts = events
        .slice(killedAt)
        .flatMap((e) => (e.type === "probe/result" && !e.up ? [e.gateway] : []))
        .filter((g) => g === gw1.v4 || g === gw1.v6);
      expect(gw1Verdicts).toEqual([]);
      expect([stateOf(gw1.v4), stateOf(gw1.v6)]).toEqual(["up", "up"]);
    } finally {
      await topology.recover(2);
    }
  });
});
