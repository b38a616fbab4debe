import type { IpAddr, KernelRoute, Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { header } from "../src/cluster/story.ts";
import { counted } from "../src/counted.ts";
import { renderText } from "../src/render.ts";

describe("counts in the output agree with their nouns", () => {
  it("counted", () => {
    expect([0, 1, 2].map((n) => counted(n, "node"))).toEqual(["0 nodes", "1 node", "2 nodes"]);
    expect(counted(1, "blank line")).toBe("1 blank line");
    expect(counted(3, "child", "children")).toBe("3 children");
  });

  it("a replayed node's table header", () => {
    const route: KernelRoute = {
      family: 4,
      table: 254,
      dst: "10.1.0.0/16" as Prefix,
      metric: 50,
      protocol: 201,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.3" as IpAddr, dev: "eth0", weight: 1 }] },
    };
    const snapshot = (routes: KernelRoute[]) => ({
      routes,
      nexthops: [],
      rules: [],
      links: [],
      addresses: [],
      complete: true,
    });
    const first = (routes: KernelRoute[]) =>
      renderText([{ node: "n", snapshot: snapshot(routes), violations: [] }])[0];
    expect(first([route])).toBe("== node n: 1 kroute route");
    expect(first([route, { ...route, dst: "10.2.0.0/16" as Prefix }])).toBe("== node n: 2 kroute routes");
  });

  it("the cluster's banner", () => {
    const printed: string[] = [];
    const scenario = {
      nodes: [{ name: "node-1", address: "10.0.0.2", pool: "a" }],
      gateways: ["10.0.0.3"],
      routes: [{ metadata: { name: "r" }, spec: { destinations: ["10.1.0.0/16"], gateways: ["10.0.0.3"] } }],
    };
    header(scenario as unknown as Parameters<typeof header>[0], "fake", (line) => printed.push(line));
    expect(printed[0]).toBe("== cluster in a box (fake): 1 node, 1 gateway, 1 Route");
  });
});
