/**
 * The agent restarting (a DaemonSet rolling update, an OOM kill) while one of a
 * Route's gateways is dead: real ICMP probes, a real kernel, and `ip monitor` watching
 * every change to its routes and nexthops across the restart, not only the end state.
 */
import { createTopology, type Topology } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterEach, expect, it } from "vitest";
import { FAST_PROBE_SETTINGS } from "../../src/health/presets.ts";
import { type AgentInNetns, probeFlags, routeObject, startAgentInNetns } from "./agent-in-netns.ts";
import { type KernelChangeSeen, type KernelMonitor, monitorKernel } from "./kernel-monitor.ts";
import { routeGateways, waitUntil } from "./kernel-view.ts";

/** kroute writes its routes and nexthops with its protocol, 201 by default. */
const byKroute = (change: KernelChangeSeen) => change.text.includes("proto 201");

describeAsRoot("agent restart with a gateway down (two gateways, fast probes)", () => {
  let topology: Topology | undefined;
  let node: AgentInNetns | undefined;
  let monitor: KernelMonitor | undefined;

  afterEach(async () => {
    await monitor?.stop();
    await node?.stop();
    await topology?.destroy();
    monitor = node = topology = undefined;
  });

  for (const mode of ["groups", "multipath"] as const) {
    it(`${mode}: writes the dead gateway back at no moment of the restart, and a gateway that recovered meanwhile returns on its first answers`, async () => {
      const t = await createTopology({ gateways: 2 });
      topology = t;
      const [dead, alive] = t.gateways as [(typeof t.gateways)[0], (typeof t.gateways)[0]];
      const routes = [
        routeObject("egress", [t.destinationV4, t.destinationV6], [dead.v4, dead.v6, alive.v4, alive.v6]),
      ];
      const flags = [...probeFlags(FAST_PROBE_SETTINGS), `--nexthop-mode=${mode}`];
      const both = async () =>
        JSON.stringify([
          await routeGateways(t.node, t.destinationV4),
          await routeGateways(t.node, t.destinationV6),
        ]);
      const withDead = JSON.stringify([
        [dead.v4, alive.v4],
        [dead.v6, alive.v6],
      ]);
      const withoutDead = JSON.stringify([[alive.v4], [alive.v6]]);
      const start = () => startAgentInNetns(t.node.name, routes, flags);

      node = await start();
      await waitUntil("both routes over both gateways", async () => (await both()) === withDead);
      await t.kill(dead.index);
      await waitUntil("the dead gateway out of both routes", async () => (await both()) === withoutDead);

      monitor = await monitorKernel(t.node);
      await node.stop();
      node = await start();
      const restarted = node;
      // Until the new agent's own probes have judged the dead gateway, the kernel it found is all it knows.
      await waitUntil("the restarted agent's verdict on the dead gateway", async () => {
        const { probes } = restarted.agent.state();
        return probes[dead.v4]?.up === false && probes[dead.v6]?.up === false;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await monitor.stop();
      expect(monitor.changes().filter(byKroute)).toEqual([]);
      expect(restarted.agent.opsWritten()).toBe(0);
      expect(await both()).toBe(withoutDead);

      // Back while no agent was running: in again once the new agent's probes say so, not before.
      await restarted.stop();
      await t.recover(dead.index);
      monitor = await monitorKernel(t.node);
      node = await start();
      const recovered = node;
      await waitUntil("the recovered gateway judged up, and back in both routes", async () => {
        const { probes } = recovered.agent.state();
        const judged = probes[dead.v4]?.up === true && probes[dead.v6]?.up === true;
        return judged && (await both()) === withDead;
      });
      await monitor.flush();
      const { probes } = recovered.agent.state();
      for (const gateway of [dead.v4, dead.v6]) {
        const back = monitor.changes().find((c) => byKroute(c) && c.text.includes(`via ${gateway} `));
        expect(back?.at).toBeGreaterThanOrEqual(Date.parse(probes[gateway]?.since ?? ""));
      }
    });
  }
});
