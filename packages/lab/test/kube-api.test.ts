/**
 * The Kubernetes API double, driven the way the agent drives a real API server:
 * through @kubernetes/client-node 2.x over HTTP.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  type EventsV1Event,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createKubeApiDouble, type JsonObject, type KubeApiDouble } from "../src/index.ts";

const G = "networking.kroute.dev";
const V = "v1alpha1";

interface WatchLine {
  readonly type: string;
  readonly object: { metadata?: { name?: string; resourceVersion?: string }; code?: number; reason?: string };
}

/** A watch that records every event, and resolves `done` when the server ends it. */
async function openWatch(kc: KubeConfig, path: string, query: Record<string, string | boolean>) {
  const events: WatchLine[] = [];
  let finish: (err: unknown) => void = () => {};
  const done = new Promise<unknown>((ok) => {
    finish = ok;
  });
  const controller = await new Watch(kc).watch(
    path,
    query,
    (type, object) => events.push({ type, object }),
    (err) => finish(err),
  );
  return { events, done, abort: () => controller.abort() };
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function route(name: string, spec: JsonObject = { destinations: ["10.0.0.0/8"], gateways: ["192.168.1.1"] }) {
  return { apiVersion: `${G}/${V}`, kind: "Route", metadata: { name }, spec };
}

function node(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels } };
}

describe("kube-api double", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;

  beforeEach(async () => {
    api = await createKubeApiDouble({ bookmarkIntervalMs: 50 });
    kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
  });
  afterEach(async () => {
    await api.close();
  });

  it("lists with the global resourceVersion, uid, creationTimestamp and generation", async () => {
    api.apply(route("a"));
    api.apply(node("n1"));
    const list = await custom.listClusterCustomObject({ group: G, version: V, plural: "routes" });
    expect(list.metadata.resourceVersion).toBe(String(api.resourceVersion));
    expect(list.items).toHaveLength(1);
    const item = list.items[0];
    expect(item.metadata).toMatchObject({ name: "a", generation: 1, resourceVersion: "1" });
    expect(item.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(item.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const nodes = await core.listNode();
    expect(nodes.items.map((n) => n.metadata?.name)).toEqual(["n1"]);
    expect(nodes.metadata?.resourceVersion).toBe("2");
  });

  it("watches from a list's resourceVersion: ADDED, MODIFIED, DELETED in order", async () => {
    api.apply(route("old"));
    const list = await custom.listClusterCustomObject({ group: G, version: V, plural: "routes" });
    const w = await openWatch(kc, `/apis/${G}/${V}/routes`, {
      resourceVersion: list.metadata.resourceVersion,
    });
    api.apply(route("a"));
    api.apply(route("a", { destinations: ["10.1.0.0/16"], gateways: ["192.168.1.1"] }));
    api.delete("Route", "a");
    await until(() => w.events.length === 3, "three events");
    expect(w.events.map((e) => [e.type, e.object.metadata?.name])).toEqual([
      ["ADDED", "a"],
      ["MODIFIED", "a"],
      ["DELETED", "a"],
    ]);
    const rvs = w.events.map((e) => Number(e.object.metadata?.resourceVersion));
    expect(rvs).toEqual([...rvs].sort((x, y) => x - y));
    w.abort();
  });

  it("replays missed changes when a watch resumes from an older resourceVersion", async () => {
    const start = api.resourceVersion;
    api.apply(route("a"));
    api.apply(route("b"));
    const w = await openWatch(kc, `/apis/${G}/${V}/routes`, { resourceVersion: String(start) });
    await until(() => w.events.length === 2, "replayed events");
    expect(w.events.map((e) => e.object.metadata?.name)).toEqual(["a", "b"]);
    w.abort();
  });

  it("holds back a watch from a future resourceVersion until changes pass it", async () => {
    const future = api.resourceVersion + 2;
    const w = await openWatch(kc, `/apis/${G}/${V}/routes`, { resourceVersion: String(future) });
    for (const name of ["a", "b", "c", "d"]) api.apply(route(name));
    await until(() => w.events.length === 2, "the changes after the requested version");
    expect(w.events.map((e) => e.object.metadata?.name)).toEqual(["c", "d"]);
    w.abort();
  });

  it("answers a watch from a compacted resourceVersion with a 410 Expired ERROR event", async () => {
    api.apply(route("a"));
    const rv = String(api.resourceVersion);
    api.apply(route("b"));
    api.compact();
    const w = await openWatch(kc, `/apis/${G}/${V}/routes`, { resourceVersion: rv });
    await w.done;
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ type: "ERROR", object: { code: 410, reason: "Expired" } });
  });

  it("expires resourceVersions that fell out of the history window", async () => {
    api.apply(route("first"));
    api.setHistoryLimit(2);
    const rv = String(api.resourceVersion);
    for (const name of ["a", "b", "c"]) api.apply(route(name));
    const w = await openWatch(kc, `/apis/${G}/${V}/routes`, { resourceVersion: rv });
    await w.done;
    expect(w.events[0]?.object.code).toBe(410);
  });

  it("sends bookmarks only to watches that allow them", async () => {
    const rv = String(api.resourceVersion);
    const withB = await openWatch(kc, `/apis/${G}/${V}/routes`, {
      resourceVersion: rv,
      allowWatchBookmarks: true,
    });
    const without = await openWatch(kc, `/apis/${G}/${V}/routes`, { resourceVersion: rv });
    api.apply(route("a"));
    const bookmarkAfterChange = () =>
      withB.events
        .slice(withB.events.findIndex((e) => e.type === "ADDED"))
        .find((e) => e.type === "BOOKMARK");
    await until(
      () => withB.events.some((e) => e.type === "ADDED") && bookmarkAfterChange() !== undefined,
      "a bookmark",
    );
    const bookmark = bookmarkAfterChange()!;
    expect(Number(bookmark.object.metadata?.resourceVersion)).toBe(api.resourceVersion);
    await until(() => without.events.length > 0, "the change on the watch without bookmarks");
    await new Promise((r) => setTimeout(r, 150));
    expect(without.events.map((e) => e.type)).toEqual(["ADDED"]);
    withB.abort();
    without.abort();
  });

  it("filters list and watch by field selector, and by label selector with set operators", async () => {
    api.apply(node("n1", { pool: "a", gpu: "yes" }));
    api.apply(node("n2", { pool: "b" }));
    api.apply(node("n3", {}));
    const names = async (q: { fieldSelector?: string; labelSelector?: string }) =>
      (await core.listNode(q)).items.map((n) => n.metadata?.name);
    expect(await names({ fieldSelector: "metadata.name=n2" })).toEqual(["n2"]);
    expect(await names({ fieldSelector: "metadata.name!=n2" })).toEqual(["n1", "n3"]);
    expect(await names({ labelSelector: "pool=a" })).toEqual(["n1"]);
    expect(await names({ labelSelector: "pool!=a" })).toEqual(["n2", "n3"]);
    expect(await names({ labelSelector: "pool in (a,b)" })).toEqual(["n1", "n2"]);
    expect(await names({ labelSelector: "pool notin (a)" })).toEqual(["n2", "n3"]);
    expect(await names({ labelSelector: "gpu" })).toEqual(["n1"]);
    expect(await names({ labelSelector: "!gpu,pool" })).toEqual(["n2"]);
    await expect(core.listNode({ fieldSelector: "spec.unschedulable=true" })).rejects.toMatchObject({
      code: 400,
    });

    const w = await openWatch(kc, "/api/v1/nodes", { fieldSelector: "metadata.name=n2" });
    api.apply(node("n1", { pool: "c" }));
    api.apply(node("n2", { pool: "c" }));
    await until(() => w.events.length === 2, "initial ADDED and one MODIFIED");
    expect(w.events.map((e) => [e.type, e.object.metadata?.name])).toEqual([
      ["ADDED", "n2"],
      ["MODIFIED", "n2"],
    ]);
    w.abort();
  });

  it("filters a custom resource's list and watch by metadata.name, deletions included", async () => {
    // Every resource, custom ones too, takes metadata.name as a field selector: the agent
    // watches its own NodeRouteTable so.
    const table = (name: string, routes: number) => ({
      apiVersion: `${G}/${V}`,
      kind: "NodeRouteTable",
      metadata: { name },
      status: { routes },
    });
    api.apply(table("n1", 1));
    api.apply(table("n2", 1));
    const list = await custom.listClusterCustomObject({
      group: G,
      version: V,
      plural: "noderoutetables",
      fieldSelector: "metadata.name=n2",
    });
    expect(list.items.map((t: { metadata: { name: string } }) => t.metadata.name)).toEqual(["n2"]);

    const w = await openWatch(kc, `/apis/${G}/${V}/noderoutetables`, {
      fieldSelector: "metadata.name=n2",
      resourceVersion: list.metadata.resourceVersion,
    });
    api.apply(table("n1", 2));
    api.delete({ apiVersion: `${G}/${V}`, kind: "NodeRouteTable" }, "n1");
    api.apply(table("n2", 2));
    api.delete({ apiVersion: `${G}/${V}`, kind: "NodeRouteTable" }, "n2");
    api.apply(table("n2", 3));
    await until(() => w.events.length === 3, "n2's three changes");
    await new Promise((r) => setTimeout(r, 100));
    expect(w.events.map((e) => [e.type, e.object.metadata?.name])).toEqual([
      ["MODIFIED", "n2"],
      ["DELETED", "n2"],
      ["ADDED", "n2"],
    ]);
    w.abort();
  });

  it("turns objects entering and leaving a label selector into ADDED and DELETED", async () => {
    api.apply(node("n1", { pool: "a" }));
    const w = await openWatch(kc, "/api/v1/nodes", {
      labelSelector: "pool=a",
      resourceVersion: String(api.resourceVersion),
    });
    api.apply(node("n1", { pool: "b" }));
    api.apply(node("n1", { pool: "a" }));
    await until(() => w.events.length === 2, "two transitions");
    expect(w.events.map((e) => e.type)).toEqual(["DELETED", "ADDED"]);
    w.abort();
  });

  it("ends a watch after timeoutSeconds", async () => {
    const w = await openWatch(kc, `/apis/${G}/${V}/routes`, { timeoutSeconds: "1" } as Record<
      string,
      string
    >);
    const started = Date.now();
    expect(await w.done).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  describe("paginated lists", () => {
    interface Page {
      metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
      items: { metadata: { name: string } }[];
    }
    const page = async (query: Record<string, string>): Promise<{ status: number; body: Page }> => {
      const response = await fetch(`${api.url}/apis/${G}/${V}/routes?${new URLSearchParams(query)}`);
      return { status: response.status, body: (await response.json()) as Page };
    };
    const names = (p: Page) => p.items.map((i) => i.metadata.name);

    it("pages with limit and continue, every page from the first page's snapshot", async () => {
      for (const name of ["a", "b", "c", "d", "e"]) api.apply(route(name));
      const first = await page({ limit: "2" });
      expect(names(first.body)).toEqual(["a", "b"]);
      expect(first.body.metadata.remainingItemCount).toBe(3);
      const snapshotRv = first.body.metadata.resourceVersion;
      // Changes after the first page are not in the later ones.
      api.delete("Route", "c");
      api.apply(route("bb"));
      api.apply(route("d", { destinations: ["10.9.0.0/16"], gateways: ["192.168.1.1"] }));
      const second = await page({ limit: "2", continue: first.body.metadata.continue! });
      expect(names(second.body)).toEqual(["c", "d"]);
      expect(second.body.metadata.resourceVersion).toBe(snapshotRv);
      expect(second.body.items[1]).toMatchObject({ spec: { destinations: ["10.0.0.0/8"] } });
      const last = await page({ limit: "2", continue: second.body.metadata.continue! });
      expect(names(last.body)).toEqual(["e"]);
      expect(last.body.metadata.continue).toBeUndefined();
      // A list without limit is one page of the latest state.
      expect(names((await page({})).body)).toEqual(["a", "b", "bb", "d", "e"]);
    });

    it("answers a continue token whose snapshot was compacted with 410 Expired", async () => {
      for (const name of ["a", "b", "c"]) api.apply(route(name));
      const first = await page({ limit: "1" });
      api.apply(route("d"));
      api.compact();
      const expired = await page({ limit: "1", continue: first.body.metadata.continue! });
      expect(expired.status).toBe(410);
      expect(expired.body).toMatchObject({ kind: "Status", code: 410, reason: "Expired" });
    });

    it("refuses a continue token it did not make, and a resourceVersion beside one", async () => {
      api.apply(route("a"));
      api.apply(route("b"));
      expect((await page({ limit: "1", continue: "garbage" })).status).toBe(400);
      const first = await page({ limit: "1" });
      const both = await page({ limit: "1", continue: first.body.metadata.continue!, resourceVersion: "1" });
      expect(both.status).toBe(400);
    });
  });

  it("bumps generation on spec changes only; the status subresource keeps spec and status apart", async () => {
    const created = await custom.createClusterCustomObject({
      group: G,
      version: V,
      plural: "routes",
      body: { ...route("a"), status: { conditions: [] } },
    });
    expect(created.metadata.generation).toBe(1);
    expect(created.status).toBeUndefined(); // dropped on create, as for CRDs with a status subresource
    const withStatus = await custom.patchClusterCustomObjectStatus(
      { group: G, version: V, plural: "routes", name: "a", body: { status: { phase: "x" } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(withStatus.status).toEqual({ phase: "x" });
    expect(withStatus.metadata.generation).toBe(1);
    const labelled = await custom.patchClusterCustomObject(
      {
        group: G,
        version: V,
        plural: "routes",
        name: "a",
        body: { metadata: { labels: { x: "y" } }, status: { phase: "ignored" } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(labelled.metadata.generation).toBe(1);
    expect(labelled.status).toEqual({ phase: "x" });
    const respecced = await custom.patchClusterCustomObject(
      { group: G, version: V, plural: "routes", name: "a", body: { spec: { gateways: ["192.168.1.2"] } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(respecced.metadata.generation).toBe(2);
    expect(respecced.spec).toEqual({ destinations: ["10.0.0.0/8"], gateways: ["192.168.1.2"] });
  });

  it("refuses a PUT carrying a stale resourceVersion", async () => {
    api.apply(route("a"));
    const current = await custom.getClusterCustomObject({
      group: G,
      version: V,
      plural: "routes",
      name: "a",
    });
    api.apply(route("a", { destinations: ["10.9.0.0/16"], gateways: ["192.168.1.1"] }));
    await expect(
      custom.replaceClusterCustomObject({ group: G, version: V, plural: "routes", name: "a", body: current }),
    ).rejects.toMatchObject({ code: 409 });
  });

  describe("server-side apply", () => {
    const ssa = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
    const applyStatus = (manager: string, conditions: JsonObject[], force = false) =>
      custom.patchClusterCustomObjectStatus(
        {
          group: G,
          version: V,
          plural: "routes",
          name: "a",
          body: { apiVersion: `${G}/${V}`, kind: "Route", metadata: { name: "a" }, status: { conditions } },
          fieldManager: manager,
          force,
        },
        ssa,
      );
    const cond = (type: string, status: string, message = "") => ({ type, status, reason: "R", message });

    it("keeps each manager's conditions, refuses to overwrite another's field without force", async () => {
      api.apply(route("a"));
      await applyStatus("kroute-agent", [cond("Accepted", "True")]);
      const both = await applyStatus("other", [cond("Ready", "False")]);
      expect(both.status.conditions.map((c: { type: string }) => c.type)).toEqual(["Accepted", "Ready"]);
      expect(both.metadata.generation).toBe(1);
      const managers = both.metadata.managedFields.map((m: { manager: string; subresource?: string }) => [
        m.manager,
        m.subresource,
      ]);
      expect(managers).toContainEqual(["kroute-agent", "status"]);
      expect(managers).toContainEqual(["other", "status"]);

      await expect(applyStatus("other", [cond("Accepted", "False")])).rejects.toMatchObject({ code: 409 });
      // Applying the same value another manager owns is shared ownership, not a conflict.
      await applyStatus("other", [cond("Ready", "False"), cond("Accepted", "True")]);
      const forced = await applyStatus(
        "other",
        [cond("Ready", "False"), cond("Accepted", "False", "taken")],
        true,
      );
      const accepted = forced.status.conditions.find((c: { type: string }) => c.type === "Accepted");
      expect(accepted).toMatchObject({ status: "False", message: "taken" });
    });

    it("removes fields a manager stops applying, unless someone else owns them", async () => {
      api.apply(route("a"));
      await applyStatus("kroute-agent", [cond("Accepted", "True"), cond("Extra", "True")]);
      const after = await applyStatus("kroute-agent", [cond("Accepted", "True")]);
      expect(after.status.conditions.map((c: { type: string }) => c.type)).toEqual(["Accepted"]);

      await applyStatus("kroute-agent", [cond("Accepted", "True"), cond("Shared", "True", "both")]);
      await applyStatus("other", [cond("Shared", "True", "both")]);
      const kept = await applyStatus("kroute-agent", [cond("Accepted", "True")]);
      expect(kept.status.conditions).toEqual([cond("Accepted", "True"), cond("Shared", "True", "both")]);
    });

    it("does not bump the resourceVersion when an apply changes nothing", async () => {
      api.apply(route("a"));
      const first = await applyStatus("kroute-agent", [cond("Accepted", "True")]);
      const second = await applyStatus("kroute-agent", [cond("Accepted", "True")]);
      expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    });

    it("requires a fieldManager, and a matching apiVersion and kind", async () => {
      api.apply(route("a"));
      await expect(
        custom.patchClusterCustomObjectStatus(
          {
            group: G,
            version: V,
            plural: "routes",
            name: "a",
            body: { apiVersion: `${G}/${V}`, kind: "Route" },
          },
          ssa,
        ),
      ).rejects.toMatchObject({ code: 400 });
      await expect(
        custom.patchClusterCustomObjectStatus(
          {
            group: G,
            version: V,
            plural: "routes",
            name: "a",
            body: { apiVersion: "v1", kind: "Node" },
            fieldManager: "m",
          },
          ssa,
        ),
      ).rejects.toMatchObject({ code: 400 });
    });

    it("creates a NodeRouteTable when absent, with ownerReferences, then applies its status", async () => {
      // Its owner exists: the garbage collector deletes a table whose owner does not.
      const uid = String((api.apply(node("n1")).metadata as JsonObject).uid);
      const body = {
        apiVersion: `${G}/${V}`,
        kind: "NodeRouteTable",
        metadata: {
          name: "n1",
          ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid }],
        },
      };
      const params = {
        group: G,
        version: V,
        plural: "noderoutetables",
        name: "n1",
        fieldManager: "kroute-agent",
      };
      await expect(
        custom.patchClusterCustomObjectStatus({ ...params, body: { ...body, status: { routes: 1 } } }, ssa),
      ).rejects.toMatchObject({ code: 404 });
      const created = await custom.patchClusterCustomObject({ ...params, body }, ssa);
      expect(created.metadata.ownerReferences).toEqual(body.metadata.ownerReferences);
      const updated = await custom.patchClusterCustomObjectStatus(
        { ...params, body: { ...body, status: { routes: 3 } } },
        ssa,
      );
      expect(updated.status).toEqual({ routes: 3 });
      expect(updated.metadata.ownerReferences).toEqual(body.metadata.ownerReferences);
      expect(api.get({ apiVersion: `${G}/${V}`, kind: "NodeRouteTable" }, "n1")?.status).toEqual({
        routes: 3,
      });
    });
  });

  it("serves the DOKS group when configured, and not an unconfigured one", async () => {
    const doks = "networking.doks.digitalocean.com";
    api.apply({ ...route("d"), apiVersion: `${doks}/${V}` });
    const list = await custom.listClusterCustomObject({ group: doks, version: V, plural: "routes" });
    expect(list.items.map((r: { metadata: { name: string } }) => r.metadata.name)).toEqual(["d"]);
    const only = await createKubeApiDouble({ crdGroups: [G] });
    try {
      const kc2 = new KubeConfig();
      kc2.loadFromString(only.kubeconfig());
      await expect(
        kc2
          .makeApiClient(CustomObjectsApi)
          .listClusterCustomObject({ group: doks, version: V, plural: "routes" }),
      ).rejects.toMatchObject({ code: 404 });
    } finally {
      await only.close();
    }
  });

  /** A well-formed agent Event about Node n1, with `fields` changed. */
  const event = (name: string, fields: Partial<EventsV1Event> = {}): EventsV1Event => ({
    metadata: { name },
    eventTime: new Date(),
    reportingController: "kroute.dev/agent",
    reportingInstance: "kroute-agent-n1",
    action: "Probe",
    reason: "GatewayDown",
    type: "Warning",
    note: "gateway 10.0.0.1 stopped answering",
    regarding: { apiVersion: "v1", kind: "Node", name: "n1" },
    ...fields,
  });

  it("validates events.k8s.io/v1 Events like the API server", async () => {
    const events = kc.makeApiClient(EventsV1Api);
    await expect(
      events.createNamespacedEvent({
        namespace: "default",
        body: { metadata: { name: "e1" }, reason: "X" } as unknown as EventsV1Event,
      }),
    ).rejects.toMatchObject({ code: 422 });
    const ok = await events.createNamespacedEvent({ namespace: "default", body: event("e2") });
    expect(ok.metadata?.namespace).toBe("default");
    expect(api.list("Event", "default")).toHaveLength(1);
  });

  it("refuses an Event about a cluster-scoped object outside default and kube-system, and one with a field over the length limits, as the API server does", async () => {
    const events = kc.makeApiClient(EventsV1Api);
    const refusal = async (namespace: string, body: EventsV1Event) => {
      const err = await events.createNamespacedEvent({ namespace, body }).then(
        () => undefined,
        (e: unknown) => e as { code?: number; body?: string },
      );
      return { code: err?.code, message: String(JSON.parse(err?.body ?? "{}").message) };
    };
    // A Node (no namespace) may only be spoken of from default or kube-system.
    expect(await refusal("kube-api", event("n1.a"))).toEqual({
      code: 422,
      message: expect.stringContaining(
        'involvedObject.namespace: Invalid value: "": does not match event.namespace',
      ),
    });
    await events.createNamespacedEvent({ namespace: "kube-system", body: event("n1.b") });
    // One about a namespaced object may live in that object's namespace, whatever it is.
    const pod = { apiVersion: "v1", kind: "Pod", name: "p", namespace: "kube-api" };
    await events.createNamespacedEvent({ namespace: "kube-api", body: event("p.c", { regarding: pod }) });
    const long = "x".repeat(129);
    for (const field of ["reportingInstance", "action", "reason"] as const) {
      expect(await refusal("default", event(`n1.${field.toLowerCase()}`, { [field]: long }))).toEqual({
        code: 422,
        message: expect.stringContaining(`${field}: Invalid value: "": can have at most 128 characters`),
      });
    }
    // The note's limit is in bytes, as Go's len counts them: 600 two-byte characters are too many.
    expect(await refusal("default", event("n1.note", { note: "é".repeat(600) }))).toMatchObject({
      code: 422,
    });
    expect(api.list("Event").map((e) => (e.metadata as JsonObject).name)).toEqual(["p.c", "n1.b"]); // by namespace, then name
  });

  describe("fault injection", () => {
    it("fails the next N requests with 500, then recovers, and logs them", async () => {
      api.faults.failNext(2);
      await expect(core.listNode()).rejects.toMatchObject({ code: 500 });
      await expect(core.listNode()).rejects.toMatchObject({ code: 500 });
      await expect(core.listNode()).resolves.toBeDefined();
      expect(api.requests((r) => r.verb === "list").map((r) => r.status)).toEqual([500, 500, 200]);
    });

    it("fails only matching requests when asked", async () => {
      api.faults.failNext(1, { match: (r) => r.resource === "/v1/nodes" });
      await expect(
        custom.listClusterCustomObject({ group: G, version: V, plural: "routes" }),
      ).resolves.toBeDefined();
      await expect(core.listNode()).rejects.toMatchObject({ code: 500 });
    });

    it("drops open watches (abruptly: the client sees an error; cleanly: the stream ends)", async () => {
      const abrupt = await openWatch(kc, `/apis/${G}/${V}/routes`, {});
      const clean = await openWatch(kc, "/api/v1/nodes", {});
      await until(() => api.openWatches() === 2, "two open watches");
      api.faults.dropWatches("abrupt");
      expect(await abrupt.done).toBeInstanceOf(Error);
      expect(await clean.done).toBeInstanceOf(Error);
      const again = await openWatch(kc, "/api/v1/nodes", {});
      await until(() => api.openWatches() === 1, "one open watch");
      api.faults.dropWatches("clean");
      expect(await again.done).toBeNull();
    });

    it("stalls open watches: connected, silent, while new watches work", async () => {
      const stalled = await openWatch(kc, `/apis/${G}/${V}/routes`, { allowWatchBookmarks: true });
      await until(() => api.openWatches() === 1, "watch open");
      expect(api.faults.stallWatches()).toBe(1);
      const fresh = await openWatch(kc, `/apis/${G}/${V}/routes`, {
        resourceVersion: String(api.resourceVersion),
      });
      api.apply(route("a"));
      await until(() => fresh.events.length === 1, "the fresh watch's event");
      await new Promise((r) => setTimeout(r, 150));
      expect(stalled.events).toEqual([]);
      expect(api.openWatches()).toBe(2);
      stalled.abort();
      fresh.abort();
    });

    it("slows watches, open and new: each event arrives late, in order, and on time again once lifted", async () => {
      const open = await openWatch(kc, `/apis/${G}/${V}/routes`, {});
      await until(() => api.openWatches() === 1, "watch open");
      expect(api.faults.slowWatches(400)).toBe(1);
      const later = await openWatch(kc, `/apis/${G}/${V}/routes`, {
        resourceVersion: String(api.resourceVersion),
      });
      await until(() => api.openWatches() === 2, "second watch open");
      const applied = Date.now();
      for (const name of ["a", "b", "c"]) api.apply(route(name));
      await new Promise((r) => setTimeout(r, 250));
      expect([open.events.length, later.events.length]).toEqual([0, 0]);
      await until(() => open.events.length === 3 && later.events.length === 3, "the slowed events");
      expect(Date.now() - applied).toBeGreaterThanOrEqual(380);
      for (const w of [open, later])
        expect(w.events.map((e) => e.object.metadata?.name)).toEqual(["a", "b", "c"]);

      // Lifted while an event is held back: the next one does not overtake it.
      api.apply(route("d"));
      api.faults.slowWatches(0);
      api.apply(route("e"));
      await until(() => open.events.length === 5, "the events after the slowdown");
      expect(open.events.slice(3).map((e) => e.object.metadata?.name)).toEqual(["d", "e"]);
      expect(() => api.faults.slowWatches(-1)).toThrow(/slowWatches: ms .* got -1/);
      open.abort();
      later.abort();
    });

    it("sends Retry-After with an injected 429, as API Priority and Fairness does", async () => {
      api.faults.failNext(1, { status: 429, retryAfterSeconds: 3 });
      const response = await fetch(`${api.url}/api/v1/nodes`);
      expect(response.status).toBe(429);
      expect(response.headers.get("retry-after")).toBe("3");
      expect(await response.json()).toMatchObject({
        reason: "TooManyRequests",
        details: { retryAfterSeconds: 3 },
      });
    });

    it("slows every response down", async () => {
      api.faults.setLatency(150);
      const started = Date.now();
      await core.listNode();
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });
  });

  it("requires the bearer token when configured with one", async () => {
    const secured = await createKubeApiDouble({ token: "s3cret" });
    try {
      const good = new KubeConfig();
      good.loadFromString(secured.kubeconfig());
      await expect(good.makeApiClient(CoreV1Api).listNode()).resolves.toBeDefined();
      const bad = new KubeConfig();
      bad.loadFromString(secured.kubeconfig().replace("s3cret", "wrong"));
      await expect(bad.makeApiClient(CoreV1Api).listNode()).rejects.toMatchObject({ code: 401 });
    } finally {
      await secured.close();
    }
  });
});
