/** --max-destinations on a running agent: the kernel holds the oldest Routes' destinations, the NodeRouteTable names the rest. */
import type { DesiredTable, KernelRoute } from "@kroute/core";
import { createFakeKernel, type FakeKernel } from "@kroute/driver-fake";
import { afterEach, describe, expect, it } from "vitest";
import { nodeRouteTableStatus } from "../../src/kube/node-route-table.ts";
import { type AgentHandle, startAgent } from "../../src/runtime/agent.ts";
import { eventually, HandCluster, NODE_HOST, quietLogger, routeObject, testSettings } from "./harness.ts";

const agents: AgentHandle[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
});

function ownedDestinations(kernel: FakeKernel): string[] {
  return [...kernel.listSync({ protocols: [201] }).routes].map((r: KernelRoute) => r.dst).sort();
}

const via = (destinations: string[]) => ({ destinations, gateways: ["10.0.0.3"] });

describe("the agent with --max-destinations", () => {
  it("programs the oldest Routes' destinations, reports the rest as refused naming the setting, and takes them in when room appears", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    let latest: DesiredTable | undefined;
    const agent = await startAgent(testSettings(["--max-destinations=3"]), {
      cluster,
      dataplane: kernel,
      probe: () => Promise.resolve({ ok: true as const, rttMs: 1 }),
      logger: quietLogger,
      status: [{ update: (table) => (latest = table) }],
    });
    agents.push(agent);
    const old = routeObject("old", via(["192.0.2.0/24", "198.51.100.0/24"]), "2026-01-01T00:00:00Z");
    const young = routeObject("young", via(["203.0.113.0/24", "198.18.0.0/24"]), "2026-02-01T00:00:00Z");
    cluster.resync([young, old]);
    await eventually(() =>
      expect(ownedDestinations(kernel)).toEqual(["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]),
    );
    await eventually(() => {
      const status = nodeRouteTableStatus(latest as DesiredTable, undefined);
      expect(status).toMatchObject({ programmed: 3, failed: 1 });
      expect(status.problems).toEqual([
        {
          route: "young",
          destination: "198.18.0.0/24",
          state: "invalid",
          reason: expect.stringContaining("at most 3 destinations (--max-destinations 3)"),
        },
      ]);
    });

    cluster.routes.next({ type: "route/deleted", name: "old" });
    await eventually(() => expect(ownedDestinations(kernel)).toEqual(["198.18.0.0/24", "203.0.113.0/24"]));
    await eventually(() =>
      expect(nodeRouteTableStatus(latest as DesiredTable, undefined).problems).toEqual([]),
    );
  });
});
