/**
 * `kroute-agent cleanup` on a real kernel in a fresh network namespace, after an agent
 * programmed it and stopped: what it removes and what it leaves, checked with `ip`.
 */
import { createNetlinkDataplane } from "@kroute/driver-netlink";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { type CleanupReport, cleanup } from "../../src/cleanup.ts";
import { parseCleanupSettings } from "../../src/settings.ts";
import { eventually, kernelRoutes, route, worldPerTest } from "./e2e-support.ts";

interface IpNexthop {
  id: number;
  gateway?: string;
  group?: { id: number }[];
}

describeAsRoot("kroute-agent cleanup (kernel namespace)", () => {
  const { world: w, startAgent } = worldPerTest();

  async function programmedAndStopped(): Promise<void> {
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    w().api.apply(route("b", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.7"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main 198.18.0.0/24": ["10.0.0.3", "10.0.0.4"],
        "main 198.18.1.0/24": ["10.0.0.7"],
      }),
    );
    await agent.stop();
  }

  async function runCleanup(): Promise<CleanupReport> {
    const dataplane = await createNetlinkDataplane({ netns: w().ns.name });
    try {
      return await cleanup(dataplane, parseCleanupSettings([], {}));
    } finally {
      await dataplane.close();
    }
  }

  it("keeps the nexthops others' routes and groups use (deleting them would flush or change those), and names them", async () => {
    await programmedAndStopped();
    const ours = await w().ns.ipJson<IpNexthop[]>("nexthop", "show", "proto", "201");
    const group = ours.find((n) => n.group !== undefined)!;
    const single = ours.find((n) => n.gateway === "10.0.0.7")!;
    const members = ours.filter((n) => n.gateway === "10.0.0.3" || n.gateway === "10.0.0.4");
    await w().ns.ip("route", "add", "203.0.113.0/24", "nhid", String(group.id), "proto", "static");
    await w().ns.ip("nexthop", "add", "id", "7", "group", String(single.id), "proto", "static");
    await w().ns.ip("route", "add", "203.0.114.0/24", "nhid", "7", "proto", "static");
    const theirRoutes = await w().ns.ip("route", "show", "proto", "static");

    const report = await runCleanup();

    expect(report.results.every((r) => r.ok)).toBe(true);
    expect(await w().ns.ip("route", "show", "proto", "static")).toBe(theirRoutes);
    expect(await w().ns.ip("route", "show", "table", "all", "proto", "201")).toBe("");
    expect(
      (await w().ns.ipJson<IpNexthop[]>("nexthop", "show", "proto", "201")).map((n) => n.id).sort(),
    ).toEqual([group.id, single.id, ...members.map((m) => m.id)].sort());
    expect(Object.fromEntries(report.kept.map((k) => [k.nexthop.id, k.usedBy]))).toEqual({
      [group.id]: ["route 203.0.113.0/24 table 254 protocol 4"],
      [single.id]: ["nexthop group 7 protocol 4"],
      ...Object.fromEntries(members.map((m) => [m.id, [`kept nexthop group ${group.id}`]])),
    });
  });
});
