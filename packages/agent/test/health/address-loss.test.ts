/**
 * A device losing its last IPv4 address: Linux disables IPv4 there and drops the IPv4
 * routes whose every nexthop goes out of it, announcing none of them (fib_disable_ip).
 * Plain multipath routes (kernels without nexthop objects, or --nexthop-mode multipath)
 * go that way; the agent must know they are gone, or it holds them for programmed and
 * puts nothing back when the address returns, until the periodic resync.
 */
import { desiredTable, type EngineEvent } from "@kroute/core";
import { createNetns, type Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import type { Subscription } from "rxjs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type AgentInNetns, routeObject, startAgentInNetns } from "./agent-in-netns.ts";
import { routeGateways, waitUntil } from "./kernel-view.ts";

// Far longer than the test: the route must come back from the notifications, not a resync.
const RESYNC_MS = 10 * 60_000;
const REPAIR_MS = 3000;
// Bounds a wait for what must happen at some point: only a hang should reach it.
const EVENTUALLY_MS = 20_000;
const DESTINATION = "192.0.2.0/24";

describeAsRoot("the gateways' device losing its last IPv4 address (plain multipath routes)", () => {
  let ns: Netns;
  let node: AgentInNetns;
  const events: EngineEvent[] = [];
  let recording: Subscription | undefined;

  beforeAll(async () => {
    ns = await createNetns();
    await ns.ip("link", "add", "eth1", "type", "veth", "peer", "name", "peer1");
    await ns.ip("link", "set", "eth1", "up");
    await ns.ip("link", "set", "peer1", "up");
    await ns.ip("addr", "add", "10.1.0.10/24", "dev", "eth1");
    node = await startAgentInNetns(
      ns.name,
      // Trusted gateways: no probe verdict moves the route during the test.
      [routeObject("vpn", [DESTINATION], ["10.1.0.1", "10.1.0.2"], { probe: false })],
      ["--nexthop-mode=multipath", `--resync-interval=${RESYNC_MS}ms`],
    );
    recording = node.agent.steps$.subscribe((step) => events.push(step.event));
  });
  afterAll(async () => {
    recording?.unsubscribe();
    await node?.stop();
    await ns?.destroy();
  });

  const destinationState = () => desiredTable(node.agent.state()).outcomes[0]?.destinations[0];

  it("puts the route back as soon as the address returns, not at the next resync", async () => {
    await waitUntil(
      "the route over both gateways",
      async () => (await routeGateways(ns, DESTINATION)).length === 2,
      EVENTUALLY_MS,
    );
    const resyncsBefore = events.filter((e) => e.type === "kernel/observed").length;
    await ns.ip("addr", "del", "10.1.0.10/24", "dev", "eth1");
    await waitUntil(
      "the agent to see the gateways off-link",
      async () => destinationState()?.state === "invalid",
      EVENTUALLY_MS,
    );
    expect(await routeGateways(ns, DESTINATION)).toEqual([]);
    expect(destinationState()?.reason).toContain("not on-link");

    await ns.ip("addr", "add", "10.1.0.10/24", "dev", "eth1");
    await waitUntil(
      "the route over both gateways again",
      async () => (await routeGateways(ns, DESTINATION)).length === 2,
      REPAIR_MS,
    );
    expect(destinationState()?.state).toBe("programmed");
    expect(events.filter((e) => e.type === "kernel/observed").length).toBe(resyncsBefore);
  });
});
