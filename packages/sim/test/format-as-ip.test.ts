/**
 * The text tables say routes and rules as `ip route` and `ip rule` print them: the same
 * objects are put in a real kernel (a fresh namespace) and what `ip` prints is compared
 * with what the simulator prints, line for line.
 */
import type { IpAddr, KernelNexthop, KernelRoute, KernelRule, Prefix } from "@kroute/core";
import { createNetnsWithoutDad, type Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { formatRoute, formatRule, indexNexthops } from "../src/format.ts";

const PROTO = 201;

function viaRoute(dst: string, gateway: string, table = 254): KernelRoute {
  return {
    family: dst.includes(":") ? 6 : 4,
    table,
    dst: dst as Prefix,
    metric: 50,
    protocol: PROTO,
    scope: 0,
    target: { kind: "gateways", nexthops: [{ gateway: gateway as IpAddr, dev: "eth0", weight: 1 }] },
  };
}

const nexthop: KernelNexthop = {
  kind: "gateway",
  id: 7,
  family: 4,
  protocol: PROTO,
  gateway: "10.0.0.2" as IpAddr,
  dev: "eth0",
};

const routes: KernelRoute[] = [
  viaRoute("10.1.2.3/32", "10.0.0.2"),
  viaRoute("10.1.2.0/24", "10.0.0.2"),
  viaRoute("10.9.9.9/32", "10.0.0.2", 135),
  { ...viaRoute("10.6.6.6/32", "10.0.0.2"), target: { kind: "nexthop-object", id: 7 } },
  viaRoute("2001:db8:5::7/128", "2001:db8::2"),
  viaRoute("2001:db8:6::/64", "2001:db8::2"),
  viaRoute("0.0.0.0/0", "10.0.0.2", 135),
  viaRoute("::/0", "2001:db8::2", 135),
];

function rule(priority: number, fields: Partial<KernelRule>): KernelRule {
  return { family: 4, priority, table: 135, protocol: PROTO, ...fields };
}

const rules: KernelRule[] = [
  rule(1350, { src: "10.0.0.5/32" as Prefix }),
  rule(1351, { dst: "10.1.1.1/32" as Prefix }),
  rule(1352, { src: "10.2.0.0/16" as Prefix }),
  rule(1353, { family: 6, src: "2001:db8::5/128" as Prefix }),
];

function ipRouteAdd(route: KernelRoute): string {
  const target =
    route.target.kind === "nexthop-object"
      ? `nhid ${route.target.id}`
      : route.target.kind === "gateways"
        ? `via ${route.target.nexthops[0]?.gateway} dev eth0`
        : "";
  return `route add ${route.dst} ${target} table ${route.table} proto ${route.protocol} metric ${route.metric}`;
}

/** Arguments of `ip`: a rule needs its family said (`-6`), which a batch line cannot. */
function ipRuleAdd(r: KernelRule): string[] {
  const from = r.src === undefined ? [] : ["from", r.src];
  const to = r.dst === undefined ? [] : ["to", r.dst];
  const where = [...from, ...to, "lookup", String(r.table), "pref", String(r.priority)];
  return [`-${r.family}`, "rule", "add", ...where, "proto", String(r.protocol)];
}

describeAsRoot("text output as ip prints it (real kernel in a namespace)", () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetnsWithoutDad("krsim");
    await ns.ipBatch([
      "link add eth0 type veth peer name eth1",
      "link set eth0 up",
      "link set eth1 up",
      "addr add 10.0.0.1/24 dev eth0",
      "addr add 2001:db8::1/64 dev eth0 nodad",
      "nexthop add id 7 via 10.0.0.2 dev eth0 proto 201",
      ...routes.map(ipRouteAdd),
    ]);
    for (const r of rules) await ns.ip(...ipRuleAdd(r));
  });
  afterAll(() => ns?.destroy());

  it("prints each route as ip route does: a host route (/32, /128) by its bare address, a default route as default", async () => {
    const shown = await Promise.all(
      // Not `show proto 201`: filtered by protocol, ip leaves the protocol out of each line.
      ["-4", "-6"].map((family) => ns.ip(family, "route", "show", "table", "all")),
    );
    // ip ends its lines with a space, and gives IPv6 routes their preference, which
    // kroute never sets (always medium) and the simulator does not print.
    const ipLines = shown
      .join("")
      .split("\n")
      .map((line) => line.replace(/ pref medium/, "").trimEnd())
      .filter((line) => line.includes(` proto ${PROTO} `));
    const simLines = routes.flatMap((route) => formatRoute(route, indexNexthops([nexthop])));
    expect([...simLines].sort()).toEqual([...ipLines].sort());
    expect(simLines).toContain("10.1.2.3 via 10.0.0.2 dev eth0 proto 201 metric 50");
    expect(simLines).toContain("2001:db8:5::7 via 2001:db8::2 dev eth0 proto 201 metric 50");
    expect(simLines).toContain("default via 10.0.0.2 dev eth0 table 135 proto 201 metric 50");
  });

  it("prints each rule as ip rule does, a host address by its bare address", async () => {
    const shown = await Promise.all(["-4", "-6"].map((family) => ns.ip(family, "rule", "show")));
    const ipLines = shown
      .join("")
      .split("\n")
      .map((line) => line.trimEnd())
      .filter((line) => line.endsWith(`proto ${PROTO}`));
    expect(rules.map(formatRule).sort()).toEqual(ipLines.sort());
  });
});
