/**
 * Changing --resilient-buckets between agent runs, on a real kernel in a fresh network
 * namespace: Linux cannot turn a resilient group into a hash-threshold one in place (nor
 * change its bucket count), so the new agent's groups are other objects than the old
 * agent's. Every destination keeps its way throughout (`ip route get` sampled all along,
 * `ip monitor` listening), as when the route protocol changes (protocol-handover.test.ts).
 */
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { monitorKernel } from "../health/kernel-monitor.ts";
import { eventually, kernelRoutes, route, worldPerTest } from "./e2e-support.ts";
import { type Lookup, lookupName, sampleRoutes } from "./route-sampler.ts";

/**
 * Enough destinations through one group that a batch putting them back one by one takes
 * a while: the last of them, in the order routes go in, is the one sampled.
 */
const DESTINATIONS = Array.from({ length: 600 }, (_, i) => `172.${16 + (i >> 8)}.${i & 255}.0/24`);
const LAST: Lookup = { dst: "172.18.87.5" };

interface IpNexthop {
  id: number;
  type?: string;
  group?: unknown[];
  resilient_args?: { buckets: number };
}

/** kroute's groups: id, and type as --resilient-buckets makes it ("mpath" when 0, else "resilient N"). */
async function groups(ns: Parameters<typeof kernelRoutes>[0]) {
  const all = await ns.ipJson<IpNexthop[]>("nexthop", "show", "proto", "201");
  return all
    .filter((n) => n.group !== undefined)
    .map((n) => ({
      id: n.id,
      type: n.type === "resilient" ? `resilient ${n.resilient_args?.buckets}` : "mpath",
    }));
}

/** From one run's --resilient-buckets to the next's: each a change Linux cannot make to a group in place. */
const CHANGES = [
  { from: "128", to: "0", types: ["resilient 128", "mpath"] },
  { from: "0", to: "128", types: ["mpath", "resilient 128"] },
  { from: "128", to: "64", types: ["resilient 128", "resilient 64"] },
] as const;

describeAsRoot("changing --resilient-buckets (kernel namespace)", () => {
  const { world: w, startAgent } = worldPerTest(async (world) => {
    await world.ns.ipBatch(["addr add fd00::5/64 dev eth0 nodad"]);
  });

  it.each(CHANGES)(
    "from $from to $to buckets: the routes move onto the new groups, no destination ever without its way, and back to their ids",
    async ({ from, to, types }) => {
      expect(DESTINATIONS.at(-1)).toBe("172.18.87.0/24");
      w().api.apply(route("pool", { destinations: DESTINATIONS, gateways: ["10.0.0.3", "10.0.0.4"] }));
      w().api.apply(route("v6", { destinations: ["2001:db8:5::/48"], gateways: ["fd00::3", "fd00::4"] }));
      const old = await startAgent([`--resilient-buckets=${from}`]);
      await old.ready;
      await eventually(async () => {
        const routes = await kernelRoutes(w().ns);
        expect(Object.keys(routes)).toHaveLength(DESTINATIONS.length + 1);
        expect(routes["main 172.18.87.0/24"]).toEqual(["10.0.0.3", "10.0.0.4"]);
        expect(routes["main 2001:db8:5::/48"]).toEqual(["fd00::3", "fd00::4"]);
      });
      const table = await kernelRoutes(w().ns);
      const oldGroups = await groups(w().ns);
      expect(oldGroups.map((g) => g.type)).toEqual([types[0], types[0]]);

      const monitor = await monitorKernel(w().ns);
      const sampler = sampleRoutes(w().ns, [LAST], 1);
      let sampled: Awaited<ReturnType<typeof sampler.stop>>;
      try {
        const agent = await startAgent([`--resilient-buckets=${to}`]);
        await agent.ready;
        await eventually(async () => {
          // The new groups at the ids the old ones had: the routes moved home.
          expect(await groups(w().ns)).toEqual(oldGroups.map((g) => ({ ...g, type: types[1] })));
          expect(await kernelRoutes(w().ns)).toEqual(table);
          expect(agent.state().failures).toEqual({});
        }, 15_000);
      } finally {
        sampled = await sampler.stop();
        await monitor.stop();
      }

      expect(sampled.answers.get("errors")).toBeUndefined();
      expect(sampled.rounds).toBeGreaterThan(20);
      const seen = sampled.answers.get(lookupName(LAST)) ?? [];
      expect(seen.length).toBeGreaterThan(20);
      expect(
        seen.filter((gateway) => gateway !== "10.0.0.3" && gateway !== "10.0.0.4"),
        `${lookupName(LAST)} left its gateways`,
      ).toEqual([]);
      // IPv6 announces a route's deletion (IPv4's go with their group silently): none was deleted.
      const deletedRoutes = monitor
        .changes()
        .map((c) => c.text)
        .filter((text) => text.startsWith("Deleted") && !text.startsWith("Deleted id"));
      expect(deletedRoutes).toEqual([]);
    },
  );
});
