/**
 * Changing --protocol with --adopt-protocol naming the old one, on a real kernel in a fresh
 * network namespace: the agent of the new tag takes over the old agent's routes, rules and
 * nexthops, every destination keeps its way throughout (`ip route get` sampled all along,
 * `ip monitor` listening), and a third program's objects stay as they were.
 */
import type { Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { monitorKernel } from "../health/kernel-monitor.ts";
import { eventually, kernelRoutes, route, worldPerTest } from "./e2e-support.ts";
import { type Lookup, lookupName, sampleRoutes } from "./route-sampler.ts";

/** Flows and the gateways that may carry them while kroute's routes are in place. */
const EXPECTED: readonly (Lookup & { via: readonly string[] })[] = [
  { dst: "172.16.5.5", via: ["10.0.0.3", "10.0.0.4"] },
  { dst: "2001:db8:5::5", via: ["fd00::3"] },
  // Everything else goes through the override; the API server (192.0.2.10) stays on the
  // original gateway by a protected host route, and so do replies from the node's address
  // by the reply rule: the rule and the reply table are handed over too.
  { dst: "198.18.0.1", via: ["10.0.0.7"] },
  { dst: "192.0.2.10", via: ["10.0.0.1"] },
  { dst: "198.18.0.1", from: "10.0.0.5", via: ["10.0.0.1"] },
];

/** A third program's objects (proto bgp): at a kroute destination with another metric, in kroute's id range, a rule. */
const THIRD = [
  "route add 172.16.0.0/12 via 10.0.0.9 dev eth0 metric 300 proto 186",
  "route add 203.0.113.0/24 via 10.0.0.9 dev eth0 proto 186",
  "nexthop add id 1795162113 via 10.0.0.9 dev eth0 proto 186",
  "rule add from 10.0.0.77 lookup 77 pref 1350 proto 186",
];

async function objectsOf(ns: Netns, protocol: string) {
  return {
    routes: await ns.ip("route", "show", "table", "all", "proto", protocol),
    routes6: await ns.ip("-6", "route", "show", "table", "all", "proto", protocol),
    nexthops: await ns.ip("nexthop", "show", "proto", protocol),
    rules: (await ns.ip("rule", "show")).split("\n").filter((l) => l.includes(`proto ${protocol}`)),
  };
}

describeAsRoot("changing --protocol with --adopt-protocol (kernel namespace)", () => {
  const { world: w, startAgent } = worldPerTest(async (world) => {
    await world.ns.ipBatch(["addr add fd00::5/64 dev eth0 nodad", ...THIRD]);
  });

  it("hands routes, rules and nexthops over to the new protocol, no destination ever without its way, others untouched", async () => {
    w().api.apply(route("pool", { destinations: ["172.16.0.0/12"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    w().api.apply(route("v6", { destinations: ["2001:db8:5::/48"], gateways: ["fd00::3"] }));
    w().api.apply(route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.0.0.7"] }));
    const old = await startAgent();
    await old.ready;
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["main default"]).toEqual(["10.0.0.7"]);
      expect(routes["135 default"]).toEqual(["10.0.0.1"]); // the reply table
      expect(routes["main 172.16.0.0/12"]).toEqual(["10.0.0.3", "10.0.0.4"]);
      expect(routes["main 2001:db8:5::/48"]).toEqual(["fd00::3"]);
      expect((await objectsOf(w().ns, "201")).rules.length).toBeGreaterThan(0);
    });
    const table = await kernelRoutes(w().ns);
    const oldObjects = await objectsOf(w().ns, "201");
    const third = await objectsOf(w().ns, "186");
    const thirdNexthop = await w().ns.ip("nexthop", "show", "id", "1795162113");

    const monitor = await monitorKernel(w().ns);
    const sampler = sampleRoutes(w().ns, EXPECTED);
    let sampled: Awaited<ReturnType<typeof sampler.stop>>;
    try {
      // startAgent stops the running agent first, as a DaemonSet rollout does (SIGTERM keeps the routes).
      const agent = await startAgent(["--protocol=202", "--adopt-protocol=201"]);
      await agent.ready;
      await eventually(async () => {
        expect(await objectsOf(w().ns, "201")).toEqual({ routes: "", routes6: "", nexthops: "", rules: [] });
        expect(await kernelRoutes(w().ns, 202)).toEqual(table);
        expect(agent.state().failures).toEqual({});
      }, 15_000);
      // A little longer: the ids the old nexthops held are free again and kroute's move home.
      await new Promise((r) => setTimeout(r, 1000));
      expect(agent.state().failures).toEqual({});
      expect(await kernelRoutes(w().ns, 202)).toEqual(table);
    } finally {
      sampled = await sampler.stop();
      await monitor.stop();
    }
    const { rounds, answers } = sampled;

    expect(answers.get("errors")).toBeUndefined();
    expect(rounds).toBeGreaterThan(20);
    for (const lookup of EXPECTED) {
      const seen = answers.get(lookupName(lookup)) ?? [];
      expect(seen.length, lookupName(lookup)).toBeGreaterThan(20);
      expect(
        seen.filter((gateway) => !lookup.via.includes(gateway)),
        `${lookupName(lookup)} left its gateways`,
      ).toEqual([]);
    }
    // No route of a destination kroute holds was deleted: each was replaced in place.
    const deletedRoutes = monitor
      .changes()
      .map((c) => c.text)
      .filter((text) => text.startsWith("Deleted") && !text.startsWith("Deleted id"));
    expect(deletedRoutes).toEqual([]);
    // The old nexthops went (deleted once no route used them).
    expect(oldObjects.nexthops).not.toBe("");
    expect(monitor.changes().some((c) => c.text.startsWith("Deleted id"))).toBe(true);

    expect(await objectsOf(w().ns, "186")).toEqual(third);
    expect(await w().ns.ip("nexthop", "show", "id", "1795162113")).toBe(thirdNexthop);
  });
});
