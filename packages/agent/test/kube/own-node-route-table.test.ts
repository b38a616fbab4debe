/** Only the agent's own NodeRouteTable is listed and watched; what its writer needs of it is passed on. */
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type OwnTableObservation, watchOwnNodeRouteTable } from "../../src/kube/own-node-route-table.ts";
import { collect, fastSupervisor, GROUP, startApi, until, VERSION } from "./support.ts";

const NRT = { apiVersion: `${GROUP}/${VERSION}`, kind: "NodeRouteTable" };

function table(name: string, owners: readonly { name: string; uid: string }[], status: object = {}) {
  return {
    ...NRT,
    metadata: {
      name,
      ownerReferences: owners.map((o) => ({ apiVersion: "v1", kind: "Node", ...o })),
    },
    status,
  };
}

describe("watchOwnNodeRouteTable", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  let running: ReturnType<typeof collect<OwnTableObservation>> | undefined;
  let uid: (name: string) => string;

  beforeEach(async () => {
    ({ api, kc } = await startApi());
    // Owners that exist: the double's garbage collector deletes a table whose owner does not.
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n2" } });
    uid = (name) => (api.get("Node", name)!.metadata as { uid: string }).uid;
  });
  afterEach(async () => {
    running?.stop();
    await api.close();
  });

  it("lists and watches by field selector, telling whether the table is there and its Node owners' uids", async () => {
    api.apply(table("n1", [{ name: "n1", uid: uid("n1") }]));
    api.apply(table("n2", [{ name: "n2", uid: uid("n2") }]));
    running = collect(
      watchOwnNodeRouteTable(kc, "n1", { ...fastSupervisor().options, group: GROUP, version: VERSION }),
    );
    await until(() => running!.items.length === 1 && api.openWatches() === 1, "the list");
    expect(running.items).toEqual([{ present: true, nodeOwnerUids: [uid("n1")] }]);

    api.apply(table("n2", [{ name: "n2", uid: uid("n2") }], { programmed: 2 })); // another node's: never seen
    // Owned by another Node as well; only the uids of Nodes of its own name are told.
    api.apply(
      table("n1", [
        { name: "n1", uid: uid("n1") },
        { name: "n2", uid: uid("n2") },
      ]),
    );
    api.delete(NRT, "n1");
    await until(() => running!.items.length === 3, "the change and the deletion");
    expect(running.items.slice(1)).toEqual([
      { present: true, nodeOwnerUids: [uid("n1")] },
      { present: false },
    ]);

    const requests = api.requests((r) => r.resource === `${GROUP}/${VERSION}/noderoutetables`);
    expect(requests.map((r) => r.verb)).toEqual(["list", "watch"]);
    for (const r of requests) expect(r.query.fieldSelector).toBe("metadata.name=n1");
  });

  it("tells a table gone while its watch was down, from the relist", async () => {
    api.apply(table("n1", [{ name: "n1", uid: uid("n1") }]));
    const { options } = fastSupervisor({ stallTimeoutMs: 300 });
    running = collect(watchOwnNodeRouteTable(kc, "n1", { ...options, group: GROUP, version: VERSION }));
    await until(() => running!.items.length === 1 && api.openWatches() === 1, "the list");
    // The deletion never reaches the watch, and its resourceVersion is compacted away.
    api.faults.stallWatches();
    api.delete(NRT, "n1");
    api.compact();
    await until(() => running!.items.length === 2, "the relist");
    expect(running.items[1]).toEqual({ present: false });
  });
});
