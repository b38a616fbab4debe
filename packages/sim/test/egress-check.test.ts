import { describe, expect, it } from "vitest";
import { egressProblem, expectedSources } from "../src/cluster/egress-check.ts";
import { defaultRoutes } from "../src/cluster/routes.ts";
import { scenario } from "../src/cluster/scenario.ts";

describe("the cluster's egress judged by the predicted table", () => {
  const s = scenario(2, 2, defaultRoutes(2));
  const [node1, node2] = s.nodes as [(typeof s.nodes)[0], (typeof s.nodes)[0]];
  const override = [
    { dst: "0.0.0.0/0", table: 135, gateways: ["10.114.0.1"] },
    { dst: "0.0.0.0/0", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] },
    { dst: "198.18.100.6/32", table: 254, gateways: ["10.114.0.1"] },
  ];
  const none = new Set<string>();

  it("allows the gateways' static egress IPs under an override, the node's own address through the router", () => {
    expect([...expectedSources(s, node2, override, "192.0.2.10", none)]).toEqual([
      "198.18.1.1",
      "198.18.2.1",
    ]);
    // The protected API server: the longest route, via the router.
    expect([...expectedSources(s, node2, override, "198.18.100.6", none)]).toEqual([node2.address]);
    // No kroute route covers it: the original default route.
    expect([...expectedSources(s, node1, [], "192.0.2.10", none)]).toEqual([node1.address]);
  });

  it("names a source the table does not allow, and no answer where a gateway is alive", () => {
    const allowed = expectedSources(s, node2, override, "192.0.2.10", new Set(["10.114.0.3"]));
    expect(egressProblem(allowed, { "198.18.2.1": 8 })).toBeUndefined();
    expect(egressProblem(allowed, { "198.18.2.1": 7 })).toBeUndefined(); // one UDP flow lost
    expect(egressProblem(allowed, { "198.18.2.1": 4, "10.114.0.21": 4 })).toBe(
      "saw 10.114.0.21, where the predicted table allows 198.18.2.1",
    );
    expect(egressProblem(allowed, {})).toBe("no answer, where the predicted table allows 198.18.2.1");
  });

  it("expects no answer where every gateway of the route is dead (fail-static keeps it)", () => {
    const dead = new Set(["10.114.0.3", "10.114.0.4"]);
    const allowed = expectedSources(s, node2, override, "192.0.2.10", dead);
    expect(allowed.size).toBe(0);
    expect(egressProblem(allowed, {})).toBeUndefined();
    expect(egressProblem(allowed, { "10.114.0.21": 8 })).toBe(
      "saw 10.114.0.21, where the predicted table allows no answer",
    );
  });
});
