/**
 * The agent probing a link-local gateway (fe80::1, as clouds give IPv6 routers) on a
 * node with two uplinks, each with its own router fe80::1. The Route's nexthop goes
 * out of the device of the node's IPv6 default route (eth1); its health must be that
 * router's, whichever fe80::/64 route the kernel would pick for an unscoped address.
 */
import { gatewayStatuses, type IpAddr } from "@kroute/core";
import { createNetns, dropEverything, type Netns, stopDropping } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { FAST_PROBE_SETTINGS } from "../../src/health/presets.ts";
import { type AgentInNetns, probeFlags, routeObject, startAgentInNetns } from "./agent-in-netns.ts";
import { waitUntil } from "./kernel-view.ts";

const ROUTER = "fe80::1" as IpAddr;

describeAsRoot("a link-local gateway is probed on its nexthop's device", () => {
  const namespaces: Netns[] = [];
  let routers: Netns[];
  let agent: AgentInNetns;

  const stateOfRouter = () => gatewayStatuses(agent.agent.state()).find((g) => g.gateway === ROUTER)?.state;

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
    const node = await make("kr-node");
    routers = [await make("kr-r0"), await make("kr-r1")];
    for (const [i, router] of routers.entries()) {
      await node.ipBatch([
        `link add eth${i} type veth peer name lan netns ${router.name}`,
        `link set eth${i} up`,
      ]);
      await router.ipBatch([`addr add ${ROUTER}/64 dev lan nodad`, "link set lan up"]);
    }
    await Promise.all(
      [0, 1].map((i) => node.exec("ping", ["-c", "1", "-W", "3", "-q", `${ROUTER}%eth${i}`])),
    );
    await node.ip("-6", "route", "add", "default", "via", ROUTER, "dev", "eth1");
    agent = await startAgentInNetns(
      node.name,
      [routeObject("v6", ["2001:db8:100::/64"], [ROUTER])],
      probeFlags(FAST_PROBE_SETTINGS),
    );
    await waitUntil("fe80::1 up", async () => stateOfRouter() === "up", 3000);
  });
  afterAll(async () => {
    await agent?.stop();
    await Promise.all(namespaces.map((ns) => ns.destroy()));
  });

  it("stays up while only the other link's router is dead", async () => {
    await dropEverything(routers[0]!);
    try {
      // Many times the fast settings' time to down.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(stateOfRouter()).toBe("up");
    } finally {
      await stopDropping(routers[0]!);
    }
  });

  it("goes down when the router on its own device dies, and comes back with it", async () => {
    await dropEverything(routers[1]!);
    try {
      await waitUntil("fe80::1 down", async () => stateOfRouter() === "down", 2000);
    } finally {
      await stopDropping(routers[1]!);
    }
    await waitUntil("fe80::1 up again", async () => stateOfRouter() === "up", 2000);
  });
});
