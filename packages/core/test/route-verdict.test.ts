/**
 * The Route's verdict (its Accepted condition) against the node's own view: every node
 * gives the same verdict, whatever it made of the Route; what depends on the node is on
 * the destinations only.
 */
import { describe, expect, it } from "vitest";
import { routeOutcome } from "../src/desired.ts";
import type { RouteOutcome } from "../src/outcome.ts";
import { reduce } from "../src/reducer.ts";
import { routeVerdict } from "../src/route-verdict.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import { initialNodeState, type NodeState } from "../src/state.ts";
import { validateRoute } from "../src/validate.ts";
import { ev, hostFacts, ip, NODE, type RouteSpec, readyState, route } from "./fixtures.ts";

const SETTINGS = { ...DEFAULT_SETTINGS, protectedPrefixes: ["10.96.0.0/12" as never] };

/** node-a as the fixtures have it (eth1 10.114.0.10/20), with other addresses: another node's view. */
function withAddresses(state: NodeState, addresses: { ip: string; dev: string; prefixLength: number }[]) {
  return reduce(state, ev(hostFacts({ addresses: addresses.map((a) => ({ ...a, ip: ip(a.ip) })) })));
}

/** The same Route on nodes that see it differently. */
function nodes(): Record<string, NodeState> {
  const ready = readyState(SETTINGS, { pool: "egress" });
  return {
    // 10.114.0.3 and 192.168.7.1 both on-link.
    "both on-link": withAddresses(ready, [
      { ip: "10.114.0.10", dev: "eth1", prefixLength: 20 },
      { ip: "192.168.7.10", dev: "eth2", prefixLength: 24 },
    ]),
    // 192.168.7.1 off-link: left out of every set.
    "one off-link": withAddresses(ready, [{ ip: "10.114.0.10", dev: "eth1", prefixLength: 20 }]),
    // Neither on-link: every destination refused here.
    "none on-link": withAddresses(ready, [{ ip: "172.31.0.10", dev: "eth1", prefixLength: 24 }]),
    // The node is 10.114.0.3: it routes nothing of it.
    "the gateway": withAddresses(ready, [{ ip: "10.114.0.3", dev: "eth1", prefixLength: 20 }]),
    // Its selector does not select this node.
    "not selected": readyState(SETTINGS, { pool: "web" }),
    // The node not observed yet: nothing selected, no addresses.
    "just started": initialNodeState(NODE, SETTINGS),
  };
}

function outcomes(spec: RouteSpec): Record<string, RouteOutcome | undefined> {
  const selector = {
    nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["egress"] }] }],
  };
  const object = route("egress", { ...spec, nodeSelector: selector });
  return Object.fromEntries(
    Object.entries(nodes()).map(([name, state]) => [
      name,
      routeOutcome(reduce(state, ev({ type: "route/upserted", route: object })), "egress"),
    ]),
  );
}

const verdictOf = (o: RouteOutcome | undefined) => ({
  accepted: o?.accepted,
  reason: o?.reason,
  message: o?.message,
});

describe("the Route's verdict is the same on every node", () => {
  it("nodes that route it differently (a gateway off-link, none on-link, the gateway itself, not selected) agree", () => {
    const byNode = outcomes({ destinations: ["10.50.0.0/16"], gateways: ["10.114.0.3", "192.168.7.1"] });
    for (const outcome of Object.values(byNode)) {
      expect(verdictOf(outcome)).toEqual({ accepted: true, reason: "Accepted", message: undefined });
    }
    // What differs is each node's own word on the destination.
    const states = Object.fromEntries(
      Object.entries(byNode).map(([node, o]) => [node, o?.destinations.map((d) => d.state)]),
    );
    expect(states).toEqual({
      "both on-link": ["pending"],
      "one off-link": ["pending"],
      "none on-link": ["invalid"],
      "the gateway": ["skipped"],
      "not selected": [],
      "just started": [],
    });
    expect(byNode["one off-link"]?.destinations[0]?.leftOut).toBe(
      "gateway 192.168.7.1 left out: not on-link (no connected network of the node contains it)",
    );
    expect(byNode["both on-link"]?.destinations[0]?.leftOut).toBeUndefined();
  });

  it("destinations refused by the Route itself are in the verdict, on every node alike", () => {
    const byNode = outcomes({
      destinations: ["10.50.0.0/16", "127.0.0.1", "10.96.1.0/24", "fd50::/48", "10.0.0.300/8"],
      gateways: ["10.114.0.3"],
    });
    const expected = {
      accepted: true,
      reason: "Accepted",
      message: [
        "127.0.0.1/32: 127.0.0.1/32 lies within 127.0.0.0/8 (loopback), which is never routed",
        "10.96.1.0/24: 10.96.1.0/24 lies within the configured protected prefix 10.96.0.0/12",
        "fd50::/48: no IPv6 gateway: spec.gateways has none of the destination's family",
        expect.stringMatching(/^spec\.destinations\[4\]: "10\.0\.0\.300\/8" is not /),
      ],
    };
    for (const [node, outcome] of Object.entries(byNode)) {
      expect({ node, ...verdictOf(outcome), message: outcome?.message?.split("; ") }).toEqual({
        node,
        ...expected,
      });
    }
  });

  it("a Route with no destination any node can route is refused everywhere, a node's off-link gateway is not", () => {
    const refused = outcomes({ destinations: ["127.0.0.1", "fd50::/48"], gateways: ["10.114.0.3"] });
    for (const outcome of Object.values(refused)) {
      expect(verdictOf(outcome)).toMatchObject({ accepted: false, reason: "NoUsableDestination" });
    }
    // Unroutable on one node only (no gateway on-link there) is that node's problem, not the Route's.
    const offLink = outcomes({ destinations: ["10.50.0.0/16"], gateways: ["192.168.7.1"] });
    expect(offLink["one off-link"]?.destinations[0]).toMatchObject({
      state: "invalid",
      reason: "gateway 192.168.7.1 is not on-link: no connected network of the node contains it",
    });
    expect(verdictOf(offLink["one off-link"])).toEqual(verdictOf(offLink["both on-link"]));
    expect(verdictOf(offLink["one off-link"])).toMatchObject({ accepted: true, reason: "Accepted" });
  });

  it("an invalid Route is Invalid, naming the fields", () => {
    const validation = validateRoute(
      route("bad", { destinations: ["10.1.0.0/16"], gateways: ["not-an-ip"] }),
    );
    expect(routeVerdict(validation, SETTINGS)).toMatchObject({
      accepted: false,
      reason: "Invalid",
      message: expect.stringContaining("spec.gateways[0]"),
    });
  });
});
