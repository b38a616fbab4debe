/**
 * Two nodes that route one Route, whose gateways are on-link on one node and not on the
 * other, write its status through the API double (real HTTP): the Route's condition must
 * not depend on which node wrote last, and the node with the problem must show it.
 */
import {
  DEFAULT_SETTINGS,
  type DesiredTable,
  desiredTable,
  type EventBody,
  type IpAddr,
  initialNodeState,
  type NodeState,
  type RouteObject,
  reduce,
} from "@kroute/core";
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type NodeRouteTableStatus, NodeRouteTableWriter } from "../../src/kube/node-route-table.ts";
import { RouteCache } from "../../src/kube/route-cache.ts";
import { PER_NODE_POINTER, RouteStatusWriter } from "../../src/kube/route-status.ts";
import { watchRoutes } from "../../src/kube/routes.ts";
import { collect, fastSupervisor, GROUP, route, startApi, until, VERSION } from "./support.ts";

/** Both nodes reach 10.114.0.3 on eth1; only node-a has a leg on 192.168.7.0/24, where 192.168.7.1 is. */
const ADDRESSES: Record<string, { ip: IpAddr; dev: string; prefixLength: number }[]> = {
  "node-a": [
    { ip: "10.114.0.10" as IpAddr, dev: "eth1", prefixLength: 20 },
    { ip: "192.168.7.10" as IpAddr, dev: "eth2", prefixLength: 24 },
  ],
  "node-b": [{ ip: "10.114.0.11" as IpAddr, dev: "eth1", prefixLength: 20 }],
};

let seq = 0;
function step(state: NodeState, body: EventBody): NodeState {
  seq += 1;
  return reduce(state, { v: 1, seq, at: "2026-01-01T00:00:00.000Z", ...body } as never);
}

/** A node's desired table, from its engine's state holding the Routes as the API double has them. */
function desiredTableOf(node: string, routes: readonly RouteObject[]): DesiredTable {
  const bodies: EventBody[] = [
    { type: "node/observed", node, labels: {} },
    {
      type: "host/observed",
      node,
      defaultGateways: [{ via: "10.114.0.1" as IpAddr, dev: "eth1", metric: 100 }],
      addresses: ADDRESSES[node] ?? [],
      dns: [],
      apiServers: [],
      protect: [],
    } as EventBody,
    { type: "route/resynced", routes },
  ];
  return desiredTable(bodies.reduce(step, initialNodeState(node, DEFAULT_SETTINGS)));
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration: number;
}

describe("the Route's Accepted condition, written by two nodes that see the Route differently", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  const stops: (() => void)[] = [];

  beforeEach(async () => {
    ({ api, kc } = await startApi());
    api.apply(route("partly", { destinations: ["10.50.0.0/16"], gateways: ["10.114.0.3", "192.168.7.1"] }));
    api.apply(route("far", { destinations: ["10.60.0.0/16"], gateways: ["192.168.7.1"] }));
    for (const name of Object.keys(ADDRESSES))
      api.apply({ apiVersion: "v1", kind: "Node", metadata: { name } });
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await api.close();
  });

  /** One node's agent, as far as status goes: its Route watch, its Route status writer and its NodeRouteTable writer. */
  async function agent(node: string) {
    const cache = new RouteCache();
    const watch = collect(
      watchRoutes(kc, { group: GROUP, version: VERSION, cache, ...fastSupervisor().options }),
    );
    stops.push(watch.stop);
    await until(() => watch.items.length > 0, "the route snapshot");
    const routeStatus = new RouteStatusWriter({ kc, group: GROUP, version: VERSION, cache, jitterMs: 0 });
    const nodeTable = new NodeRouteTableWriter({ kc, nodeName: node, minIntervalMs: 0 });
    stops.push(
      () => routeStatus.close(),
      () => nodeTable.close(),
    );
    const desired = desiredTableOf(
      node,
      ["partly", "far"].map((name) => api.get("Route", name) as unknown as RouteObject),
    );
    return {
      cache,
      /** Reports the node's table, as the agent does after each engine step, and waits for the writes. */
      async report() {
        routeStatus.update(desired);
        nodeTable.update(desired, undefined, undefined);
        await routeStatus.settled();
        await nodeTable.settled();
      },
    };
  }

  const accepted = (name: string) =>
    ((api.get("Route", name)?.status as { conditions?: Condition[] } | undefined)?.conditions ?? []).find(
      (c) => c.type === "Accepted",
    );
  const both = () => ({ partly: accepted("partly"), far: accepted("far") });
  const statusWrites = () =>
    api.requests(
      (r) => r.verb === "apply" && r.subresource === "status" && r.resource === `${GROUP}/${VERSION}/routes`,
    );
  const problems = (node: string) =>
    (
      api.get({ apiVersion: `${GROUP}/${VERSION}`, kind: "NodeRouteTable" }, node)?.status as unknown as
        | NodeRouteTableStatus
        | undefined
    )?.problems;
  const seen = (cache: RouteCache) =>
    until(
      () =>
        cache.condition("partly", "Accepted") !== undefined &&
        cache.condition("far", "Accepted") !== undefined,
      "the watch to show both conditions",
    );

  for (const order of [
    ["node-b", "node-a"],
    ["node-a", "node-b"],
  ]) {
    it(`is the same whichever node writes last (${order.join(" then ")}), and the node with the problem lists it`, async () => {
      const agents = Object.fromEntries(
        await Promise.all(order.map(async (n) => [n, await agent(n)] as const)),
      );
      const [first, second] = order.map((n) => agents[n]!);

      await first!.report();
      const afterFirst = both();
      await seen(second!.cache);
      await second!.report();
      // The second node found the condition right and wrote nothing; and nothing flaps afterwards.
      expect(both()).toEqual(afterFirst);
      expect(statusWrites()).toHaveLength(2);
      await seen(first!.cache);
      for (let i = 0; i < 3; i++) for (const a of [first!, second!]) await a.report();
      expect(both()).toEqual(afterFirst);
      expect(statusWrites()).toHaveLength(2);

      // The Route's word is about the Route, and says where the nodes' words are.
      for (const condition of Object.values(afterFirst)) {
        expect(condition).toMatchObject({ status: "True", reason: "Accepted", observedGeneration: 1 });
        expect(condition?.message).toBe(`The Route is valid. ${PER_NODE_POINTER}`);
      }
      // node-b, where 192.168.7.1 is not on-link, tells it in its NodeRouteTable; node-a has nothing to tell.
      expect(problems("node-b")).toEqual([
        {
          route: "far",
          destination: "10.60.0.0/16",
          state: "invalid",
          reason: "gateway 192.168.7.1 is not on-link: no connected network of the node contains it",
        },
        {
          route: "partly",
          destination: "10.50.0.0/16",
          state: "degraded",
          reason: "gateway 192.168.7.1 left out: not on-link (no connected network of the node contains it)",
        },
      ]);
      expect(problems("node-a")).toEqual([]);
    });
  }
});
