/** Only the agent's own Node is listed and watched; only label changes become events. */
import type { EventBody } from "@kroute/core";
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchOwnNode } from "../../src/kube/own-node.ts";
import { collect, fastSupervisor, sleep, startApi, until } from "./support.ts";

function node(name: string, labels: Record<string, string>, status: Record<string, unknown> = {}) {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels }, status };
}

describe("watchOwnNode", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  let running: ReturnType<typeof collect<EventBody>> | undefined;

  beforeEach(async () => {
    ({ api, kc } = await startApi());
  });
  afterEach(async () => {
    running?.stop();
    await api.close();
  });

  it("lists and watches by field selector, emitting node/observed on label changes only", async () => {
    api.apply(node("n1", { pool: "a" }));
    api.apply(node("n2", { pool: "a" }));
    running = collect(watchOwnNode(kc, "n1", fastSupervisor().options));
    await until(() => running!.items.length === 1 && api.openWatches() === 1, "the first observation");
    expect(running.items[0]).toEqual({ type: "node/observed", node: "n1", labels: { pool: "a" } });

    api.apply(node("n2", { pool: "b" })); // another node: never seen
    api.apply(node("n1", { pool: "a" }, { conditions: [{ type: "Ready", status: "True" }] })); // heartbeat
    api.apply(node("n1", { pool: "b", zone: "z1" }));
    await until(() => running!.items.length === 2, "the label change");
    await sleep(100);
    expect(running.items[1]).toEqual({
      type: "node/observed",
      node: "n1",
      labels: { pool: "b", zone: "z1" },
    });
    expect(running.items).toHaveLength(2);

    const nodeRequests = api.requests((r) => r.resource === "/v1/nodes");
    expect(nodeRequests.map((r) => r.verb)).toEqual(["list", "watch"]);
    for (const r of nodeRequests) expect(r.query.fieldSelector).toBe("metadata.name=n1");
  });

  it("waits for a node that does not exist yet, and re-states it after a relist", async () => {
    const { options } = fastSupervisor({ stallTimeoutMs: 300 });
    running = collect(watchOwnNode(kc, "n1", options));
    await until(() => api.openWatches() === 1, "the watch");
    expect(running.items).toEqual([]);
    api.apply(node("n1", { pool: "a" }));
    await until(() => running!.items.length === 1, "the node to appear");
    api.faults.stallWatches();
    api.apply(node("n1", { pool: "a", extra: "x" }));
    api.apply(node("n1", { pool: "a" }));
    api.compact();
    await until(() => api.requests((r) => r.verb === "list").length === 2, "a relist");
    await until(() => running!.items.length === 2, "the snapshot's observation");
    expect(running.items[1]).toEqual({ type: "node/observed", node: "n1", labels: { pool: "a" } });
  });

  it("tells the Node's uid from the list, and the new one of a Node deleted and registered again", async () => {
    const first = api.apply(node("n1", { pool: "a" }));
    const uids: string[] = [];
    running = collect(watchOwnNode(kc, "n1", fastSupervisor().options, (uid) => uids.push(uid)));
    await until(() => running!.items.length === 1 && api.openWatches() === 1, "the first observation");
    const uidOf = (n: typeof first) => (n.metadata as { uid: string }).uid;
    expect(uids).toEqual([uidOf(first)]);
    api.delete("Node", "n1");
    const second = api.apply(node("n1", { pool: "a" }));
    await until(() => uids.length === 2, "the new uid");
    expect(uids).toEqual([uidOf(first), uidOf(second)]);
    // Same labels, but the engine is told of the Node again.
    expect(running.items).toHaveLength(2);
  });

  it("refuses an empty node name", () => {
    expect(() => watchOwnNode(kc, "")).toThrow(/NODE_NAME/);
  });
});
