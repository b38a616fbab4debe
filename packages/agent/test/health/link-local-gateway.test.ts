/**
 * The agent probing a link-local gateway (fe80::1, as clouds give IPv6 routers) on a
 * node with two uplinks, each with its own router fe80::1. The Route's nexthop goes
 * out of the device of the node's IPv6 default route (eth1); its health must be that
 * router's, whichever fe80::/64 route the kernel would pick for an unscoped address.
 */
import { gatewayStatuses } from "@kroute/core";
import { createLinkLocalRouters, dropEverything, type LinkLocalRouters, stopDropping } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FAST_PROBE_SETTINGS } from "../../src/health/presets.ts";
import { type AgentInNetns, probeFlags, routeObject, startAgentInNetns } from "./agent-in-netns.ts";
import { waitUntil } from "./kernel-view.ts";

describeAsRoot("a link-local gateway is probed on its nexthop's device", () => {
  let lan: LinkLocalRouters;
  let agent: AgentInNetns;

  const stateOfRouter = () =>
    gatewayStatuses(agent.agent.state()).find((g) => g.gateway === lan.address)?.state;

  beforeAll(async () => {
    lan = await createLinkLocalRouters();
    await lan.node.ip("-6", "route", "add", "default", "via", lan.address, "dev", "eth1");
    agent = await startAgentInNetns(
      lan.node.name,
      [routeObject("v6", ["2001:db8:100::/64"], [lan.address])],
      probeFlags(FAST_PROBE_SETTINGS),
    );
    await waitUntil("fe80::1 up", async () => stateOfRouter() === "up", 3000);
  });
  afterAll(async () => {
    await agent?.stop();
    await lan?.destroy();
  });

  it("stays up while only the other link's router is dead", async () => {
    await dropEverything(lan.routers[0]);
    try {
      // Many times the fast settings' time to down.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(stateOfRouter()).toBe("up");
    } finally {
      await stopDropping(lan.routers[0]);
    }
  });

  it("goes down when the router on its own device dies, and comes back with it", async () => {
    await dropEverything(lan.routers[1]);
    try {
      await waitUntil("fe80::1 down", async () => stateOfRouter() === "down", 2000);
    } finally {
      await stopDropping(lan.routers[1]);
    }
    await waitUntil("fe80::1 up again", async () => stateOfRouter() === "up", 2000);
  });
});
