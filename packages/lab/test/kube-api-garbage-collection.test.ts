/**
 * The double's garbage collector, as Kubernetes' deletes dependents: an object goes once
 * none of its ownerReferences names an existing owner by uid, after the change that left
 * it so; references it cannot resolve keep it ("Garbage Collection", "Owners and
 * Dependents" in the Kubernetes documentation).
 */
import { KubeConfig, Watch } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKubeApiDouble, type JsonObject, type KubeApiDouble } from "../src/index.ts";

const NRT = { apiVersion: "networking.kroute.dev/v1alpha1", kind: "NodeRouteTable" };

interface Reference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("kube-api double: garbage collection", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;

  beforeEach(async () => {
    api = await createKubeApiDouble();
    kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
  });
  afterEach(async () => {
    await api.close();
  });

  const node = (name: string): Reference => {
    const created = api.apply({ apiVersion: "v1", kind: "Node", metadata: { name } });
    return { apiVersion: "v1", kind: "Node", name, uid: uidOf(created) };
  };
  const table = (name: string, owners: readonly Reference[]) =>
    api.apply({ ...NRT, metadata: { name, ownerReferences: owners } });
  const del = async (path: string): Promise<JsonObject> => {
    const response = await fetch(`${api.url}${path}`, { method: "DELETE" });
    expect(response.status).toBe(200);
    return (await response.json()) as JsonObject;
  };

  it("deletes the NodeRouteTable of a deleted Node after the Node, and leaves another node's", async () => {
    const n1 = node("n1");
    const n2 = node("n2");
    table("n1", [n1]);
    table("n2", [n2]);
    const deletedRvs: number[] = [];
    const watch = await new Watch(kc).watch(
      "/apis/networking.kroute.dev/v1alpha1/noderoutetables",
      { resourceVersion: String(api.resourceVersion) },
      (type, object: { metadata: { resourceVersion: string } }) => {
        if (type === "DELETED") deletedRvs.push(Number(object.metadata.resourceVersion));
      },
      () => {},
    );
    try {
      const deletedNode = await del("/api/v1/nodes/n1");
      await until(() => deletedRvs.length === 1, "the table's DELETED event");
      expect(deletedRvs[0]).toBeGreaterThan(Number((deletedNode.metadata as JsonObject).resourceVersion));
      expect(api.get(NRT, "n1")).toBeUndefined();
      expect(api.get(NRT, "n2")).toBeDefined();
    } finally {
      watch.abort();
    }
  });

  it("collects a dependent naming the uid of a Node registered again under its name, and keeps one naming the new uid", async () => {
    const first = node("n1");
    await del("/api/v1/nodes/n1");
    const second = node("n1");
    expect(second.uid).not.toBe(first.uid);
    table("stale", [first]);
    table("current", [second]);
    await until(() => api.get(NRT, "stale") === undefined, "the stale table to be collected");
    expect(api.get(NRT, "current")).toBeDefined();
  });

  it("collects dependents of dependents", async () => {
    const n1 = node("n1");
    const route = api.apply({
      apiVersion: "networking.kroute.dev/v1alpha1",
      kind: "Route",
      metadata: { name: "r", ownerReferences: [n1] },
      spec: {},
    });
    table("of-route", [{ apiVersion: NRT.apiVersion, kind: "Route", name: "r", uid: uidOf(route) }]);
    api.delete("Node", "n1");
    await until(() => api.get(NRT, "of-route") === undefined, "the Route's table to be collected");
    expect(api.get({ apiVersion: NRT.apiVersion, kind: "Route" }, "r")).toBeUndefined();
  });

  it("keeps a dependent while one of its owners remains, and one whose owner it cannot resolve", async () => {
    const n1 = node("n1");
    const n2 = node("n2");
    table("both", [n1, n2]);
    table("sentinel", [n1]);
    table("unserved-kind", [{ apiVersion: "apps/v1", kind: "Deployment", name: "d", uid: "u-1" }]);
    const service = api.apply({ apiVersion: "v1", kind: "Service", metadata: { name: "s", namespace: "a" } });
    // A cluster-scoped object cannot have a namespaced owner: unresolvable, never collected.
    table("namespaced-owner", [{ apiVersion: "v1", kind: "Service", name: "s", uid: uidOf(service) }]);
    api.delete("Node", "n1");
    // The sentinel, owned by n1 alone, goes in the same pass as anything else would.
    await until(() => api.get(NRT, "sentinel") === undefined, "the sentinel to be collected");
    expect(api.list(NRT).map((t) => (t.metadata as JsonObject).name)).toEqual([
      "both",
      "namespaced-owner",
      "unserved-kind",
    ]);
    api.delete("Node", "n2");
    await until(() => api.get(NRT, "both") === undefined, "the table to go with its last owner");
  });

  it("looks for a namespaced owner in its dependent's namespace only", async () => {
    const service = api.apply({ apiVersion: "v1", kind: "Service", metadata: { name: "s", namespace: "b" } });
    const owner = { apiVersion: "v1", kind: "Service", name: "s", uid: uidOf(service) };
    const slice = (namespace: string) =>
      api.apply({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: { name: "s-1", namespace, ownerReferences: [owner] },
        addressType: "IPv4",
        endpoints: [],
      });
    const endpointSlice = { apiVersion: "discovery.k8s.io/v1", kind: "EndpointSlice" };
    slice("a");
    slice("b");
    await until(() => api.get(endpointSlice, "s-1", "a") === undefined, "the other namespace's slice to go");
    expect(api.get(endpointSlice, "s-1", "b")).toBeDefined();
  });
});

function uidOf(obj: JsonObject): string {
  return String((obj.metadata as JsonObject).uid);
}
