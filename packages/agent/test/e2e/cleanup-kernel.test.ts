/**
 * `kroute-agent cleanup` on a real kernel in a fresh network namespace, after an agent
 * programmed it and stopped: what it removes and what it leaves, checked with `ip`.
 */
import { createNetlinkDataplane } from "@kroute/driver-netlink";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { type CleanupReport, cleanup } from "../../src/cleanup.ts";
import { parseCleanupSettings } from "../../src/settings.ts";
import { monitorKernel } from "../health/kernel-monitor.ts";
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

  async function runCleanup(argv: readonly string[] = []): Promise<CleanupReport> {
    const dataplane = await createNetlinkDataplane({ netns: w().ns.name });
    try {
      return await cleanup(dataplane, parseCleanupSettings(argv, {}));
    } finally {
      await dataplane.close();
    }
  }

  /** Ids in kroute's range (0x6b000000 on), past those the agent above takes. */
  const OLD_IDS = { gateway: 0x6b000100, other: 0x6b000101, group: 0x6b000102, third: 0x6b000103 };

  /**
   * What an agent of protocol 202 left beside the 201 one's: a route through a group of
   * its nexthops, a route in the reply table and its reply rule; a reply rule of 201's
   * (its Routes above make none); and a third protocol's (203, not kroute's) route, rule
   * and nexthop, the nexthop at an id of kroute's range.
   */
  async function olderAgentAndAThirdProtocol(): Promise<void> {
    const ns = w().ns;
    const add = (...args: string[]) => ns.ip(...args);
    await add("rule", "add", "from", "10.0.0.5", "table", "135", "pref", "1349", "proto", "201");
    await add(
      "nexthop",
      "add",
      "id",
      String(OLD_IDS.gateway),
      "via",
      "10.0.0.3",
      "dev",
      "eth0",
      "proto",
      "202",
    );
    await add(
      "nexthop",
      "add",
      "id",
      String(OLD_IDS.other),
      "via",
      "10.0.0.4",
      "dev",
      "eth0",
      "proto",
      "202",
    );
    const group = `${OLD_IDS.gateway}/${OLD_IDS.other}`;
    await add("nexthop", "add", "id", String(OLD_IDS.group), "group", group, "proto", "202");
    await add("route", "add", "198.18.2.0/24", "nhid", String(OLD_IDS.group), "metric", "50", "proto", "202");
    await add("route", "add", "default", "via", "10.0.0.1", "dev", "eth0", "table", "135", "proto", "202");
    await add("rule", "add", "from", "10.0.0.5", "table", "135", "pref", "1350", "proto", "202");
    await add(
      "nexthop",
      "add",
      "id",
      String(OLD_IDS.third),
      "via",
      "10.0.0.7",
      "dev",
      "eth0",
      "proto",
      "203",
    );
    await add("route", "add", "198.18.3.0/24", "nhid", String(OLD_IDS.third), "proto", "203");
    await add("rule", "add", "from", "10.0.0.6", "table", "136", "pref", "1360", "proto", "203");
  }

  /** Every route, rule and nexthop of a protocol, as `ip` prints them. */
  async function objectsOf(protocol: number): Promise<string> {
    const ns = w().ns;
    const proto = String(protocol);
    // `ip rule show` takes no protocol filter (iproute2 6.1 lists every rule): by its JSON.
    const rules = async (family: string) =>
      (await ns.ipJson<{ protocol?: string }[]>(family, "rule", "show"))
        .filter((r) => r.protocol === proto)
        .map((r) => `${JSON.stringify(r)}\n`)
        .join("");
    return [
      await ns.ip("route", "show", "table", "all", "proto", proto),
      await ns.ip("-6", "route", "show", "table", "all", "proto", proto),
      await rules("-4"),
      await rules("-6"),
      await ns.ip("nexthop", "show", "proto", proto),
    ].join("");
  }

  for (const [how, argv] of [
    ["the agent's protocol and the one it hands over from", ["--protocol=202", "--adopt-protocol=201"]],
    ["a list of protocols", ["--protocols=201,202"]],
  ] as const) {
    it(`removes both protocols' routes, rules and nexthops in one run, given ${how}; a third protocol's stay`, async () => {
      await programmedAndStopped();
      await olderAgentAndAThirdProtocol();
      expect(await objectsOf(201)).not.toBe("");
      expect(await objectsOf(201)).toContain('"priority":1349');
      expect(await objectsOf(202)).toContain("198.18.2.0/24");
      expect(await objectsOf(202)).toContain('"priority":1350');
      const third = await objectsOf(203);
      expect(third).toContain("198.18.3.0/24");

      const report = await runCleanup(argv);

      expect(report.results.every((r) => r.ok)).toBe(true);
      expect(report.kept).toEqual([]);
      expect(await objectsOf(201)).toBe("");
      expect(await objectsOf(202)).toBe("");
      expect(await objectsOf(203)).toBe(third);
    });
  }

  it("takes the default-route override out first: no moment where a reply or a protected address follows it", async () => {
    w().api.apply(route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.0.0.7"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["main default"]).toEqual(["10.0.0.7"]);
      expect(routes["135 default"]).toEqual(["10.0.0.1"]); // the reply table
      expect(routes["main 192.0.2.10"]).toEqual(["10.0.0.1"]); // the API server, protected
    });
    await agent.stop();
    const monitor = await monitorKernel(w().ns);
    try {
      const report = await runCleanup();
      expect(report.results.every((r) => r.ok)).toBe(true);
    } finally {
      await monitor.stop();
    }

    const deleted = monitor
      .changes()
      .map((c) => c.text)
      .filter((text) => text.startsWith("Deleted") && !text.startsWith("Deleted id"));
    expect(deleted.length).toBeGreaterThan(2);
    expect(deleted[0]).toMatch(/^Deleted default .*via 10\.0\.0\.7 dev eth0 proto 201 metric 50/);
    expect(await w().ns.ip("route", "show", "table", "all", "proto", "201")).toBe("");
  });

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
