/**
 * Another program's route through one of kroute's nexthop objects (`ip route add X nhid
 * N proto static`, N copied from `ip route`), on a real kernel in a fresh network
 * namespace. Linux flushes a route with its nexthop, and a group with its last member:
 * the agent keeps what the route uses once no Route needs it, and deletes it once the
 * route is gone.
 */
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { capturedLog } from "../runtime/harness.ts";
import { eventually, kernelRoutes, route, routeGet, worldPerTest } from "./e2e-support.ts";

const THEIRS = "100.64.0.0/24";

describeAsRoot("another program's route through a kroute nexthop (kernel namespace)", () => {
  const { world: w, startAgent } = worldPerTest();

  const krouteNexthops = async () =>
    (await w().ns.ipJson<{ id: number }[]>("nexthop", "show", "proto", "201")).map((n) => n.id).sort();

  it("keeps the group and its members while the route uses them, and deletes them once it goes", async () => {
    const ns = w().ns;
    w().api.apply(route("pool", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    const logs = capturedLog();
    const agent = await startAgent([], logs.logger);
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3", "10.0.0.4"] }),
    );
    const [ours] = await ns.ipJson<{ nhid: number }[]>("route", "show", "198.18.0.0/24", "proto", "201");
    const nhid = String(ours?.nhid);
    await ns.ip("route", "add", THEIRS, "nhid", nhid, "proto", "static");
    const nexthops = await krouteNexthops();
    expect(nexthops).toHaveLength(3);

    w().api.delete("Route", "pool");
    await eventually(async () => expect(await kernelRoutes(ns)).toEqual({}));
    // The batch that took the Route's route out would have held the nexthop deletes.
    await eventually(() => expect(agent.state().derived.mismatch.size).toBe(0));
    const [theirs] = await ns.ipJson<{ nhid?: number; protocol?: string }[]>("route", "show", THEIRS);
    expect(theirs).toMatchObject({ nhid: Number(nhid), protocol: "static" });
    expect(["10.0.0.3", "10.0.0.4"]).toContain(await routeGet(ns, "100.64.0.9"));
    expect(await krouteNexthops()).toEqual(nexthops);
    expect(agent.state().failures).toEqual({});
    // The operator is told which nexthops stay, and for whose route.
    const kept = logs.lines().filter((line) => line.msg.startsWith("keeping nexthop"));
    expect(kept.map((line) => line.nexthop).sort()).toEqual(nexthops);
    for (const line of kept) expect(line.users).toEqual([`route ${THEIRS} table 254 protocol 4`]);

    await ns.ip("route", "del", THEIRS);
    await eventually(async () => expect(await krouteNexthops()).toEqual([]));
    expect(agent.state().failures).toEqual({});
    const released = logs.lines().filter((line) => line.msg.includes("no longer used by another program"));
    expect(released.map((line) => line.nexthop).sort()).toEqual(nexthops);
  });

  it("keeps the one leaf a route uses after a restart in --nexthop-mode multipath, and deletes it once the route goes", async () => {
    const ns = w().ns;
    w().api.apply(route("pool", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    const first = await startAgent();
    await first.ready;
    await eventually(async () => expect(await krouteNexthops()).toHaveLength(3));
    const leaf = await ns.ipJson<{ id: number; gateway?: string }[]>("nexthop", "show", "proto", "201");
    const viaThree = leaf.find((n) => n.gateway === "10.0.0.3");
    await ns.ip("route", "add", THEIRS, "nhid", String(viaThree?.id), "proto", "static");

    const agent = await startAgent(["--nexthop-mode=multipath"]);
    await agent.ready;
    // kroute's route written inline, the group and the other leaf gone; theirs kept.
    await eventually(async () => {
      const [ours] = await ns.ipJson<{ nhid?: number }[]>("route", "show", "198.18.0.0/24", "proto", "201");
      expect(ours?.nhid).toBeUndefined();
      expect(await krouteNexthops()).toEqual([viaThree?.id]);
    });
    expect(await routeGet(ns, "100.64.0.9")).toBe("10.0.0.3");
    expect(agent.state().failures).toEqual({});

    await ns.ip("route", "del", THEIRS);
    await eventually(async () => expect(await krouteNexthops()).toEqual([]));
  });
});
