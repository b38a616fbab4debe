import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { KubeApiError, KubeClient } from "../../src/kube/rest.ts";
import { startApi, TEST_TLS } from "./support.ts";

const ROUTES = "/apis/networking.kroute.dev/v1alpha1/routes";

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function setUp(options: Parameters<typeof startApi>[0] = {}) {
  const started = await startApi(options);
  close = () => started.api.close();
  return started;
}

describe("KubeClient", () => {
  it("sends the requests of a KubeConfig over one pool of kept-alive connections", async () => {
    const { api, kc } = await setUp();
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    for (let i = 0; i < 20; i++) await KubeClient.for(kc).list("/api/v1/nodes");
    const clients = new Set(api.requests((e) => e.path === "/api/v1/nodes").map((e) => e.client));
    expect(api.requests((e) => e.path === "/api/v1/nodes")).toHaveLength(20);
    // Kept-alive connections are reused (a second may open while the first is being
    // released); a connection per request would be 20.
    expect(clients.size).toBeLessThanOrEqual(2);
  });

  it("sends many requests at once over at most four connections, while watches hold their own", async () => {
    const { api, kc } = await setUp({ tls: TEST_TLS });
    const client = KubeClient.for(kc);
    const stop = new AbortController();
    const watches = Array.from({ length: 5 }, () =>
      client
        .watch("/api/v1/nodes", { resourceVersion: "0" }, () => undefined, stop.signal)
        .catch(() => undefined),
    );
    await expect.poll(() => api.openWatches()).toBe(5);
    await Promise.all(Array.from({ length: 50 }, () => client.list("/api/v1/nodes")));
    const lists = api.requests((e) => e.verb === "list");
    expect(lists).toHaveLength(50);
    expect(new Set(lists.map((e) => e.client)).size).toBeLessThanOrEqual(4);
    stop.abort();
    await Promise.all(watches);
  });

  it("speaks HTTPS to a server whose certificate the kubeconfig trusts, and refuses any other", async () => {
    const { api, kc } = await setUp({ tls: TEST_TLS });
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    const list = await KubeClient.for(kc).list<{ metadata: { name: string } }>("/api/v1/nodes");
    expect(list.items.map((n) => n.metadata.name)).toEqual(["n1"]);
    // The same server, trusting another CA (the system's): the handshake fails, nothing is served.
    const distrusting = new KubeConfig();
    distrusting.loadFromString(api.kubeconfig().replace(/"certificate-authority-data":"[^"]*",?/, ""));
    api.clearRequests();
    await expect(KubeClient.for(distrusting).list("/api/v1/nodes")).rejects.toThrow(
      /self-signed|certificate/,
    );
    expect(api.requests(() => true)).toEqual([]);
  });

  it("opens new connections when the TLS material changes, for the requests after the change", async () => {
    const { api, kc } = await setUp({ tls: TEST_TLS });
    const client = KubeClient.for(kc);
    const clientsOf = () => new Set(api.requests((e) => e.path === "/api/v1/nodes").map((e) => e.client));
    for (let i = 0; i < 5; i++) await client.list("/api/v1/nodes");
    const before = clientsOf();
    expect(before.size).toBeLessThanOrEqual(2);
    // As if the kubeconfig named another TLS server name (a rotated certificate reads the same way).
    const cluster = kc.getCurrentCluster() as { tlsServerName?: string };
    cluster.tlsServerName = "api.example";
    api.clearRequests();
    for (let i = 0; i < 5; i++) await client.list("/api/v1/nodes");
    const after = clientsOf();
    expect([...after].filter((c) => before.has(c))).toEqual([]);
    expect(after.size).toBeLessThanOrEqual(2);
  });

  it("keeps the path of a server URL that has one (an API proxy's) in front of every request", async () => {
    const { api } = await setUp();
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig().replace(`"server":"${api.url}"`, `"server":"${api.url}/proxied/"`));
    await KubeClient.for(kc)
      .list("/api/v1/nodes")
      .catch(() => undefined);
    expect(api.requests(() => true).map((e) => e.path)).toEqual(["/proxied/api/v1/nodes"]);
  });

  it("lists with selectors and returns the items and the collection's resourceVersion", async () => {
    const { api, kc } = await setUp();
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1", labels: { pool: "a" } } });
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n2", labels: { pool: "b" } } });
    const list = await KubeClient.for(kc).list<{ metadata: { name: string } }>("/api/v1/nodes", {
      labelSelector: "pool=b",
      fieldSelector: undefined,
    });
    expect(list.items.map((n) => n.metadata.name)).toEqual(["n2"]);
    expect(list.resourceVersion).toBe(String(api.resourceVersion));
    expect(api.requests((e) => e.path === "/api/v1/nodes")[0]?.query).toEqual({ labelSelector: "pool=b" });
  });

  it("server-side applies with the field manager, force, and the apply content type", async () => {
    const { api, kc } = await setUp();
    api.apply({
      apiVersion: "networking.kroute.dev/v1alpha1",
      kind: "Route",
      metadata: { name: "r1" },
      spec: { destinations: ["10.1.0.0/16"], gateways: ["10.0.0.3"] },
    });
    await KubeClient.for(kc).apply(
      `${ROUTES}/r1/status`,
      {
        apiVersion: "networking.kroute.dev/v1alpha1",
        kind: "Route",
        metadata: { name: "r1" },
        status: { conditions: [{ type: "Accepted", status: "True" }] },
      },
      { fieldManager: "kroute-test", force: true },
    );
    const [patch] = api.requests((e) => e.method === "PATCH");
    expect(patch?.contentType).toBe("application/apply-patch+yaml");
    expect(patch?.query).toEqual({ fieldManager: "kroute-test", force: "true" });
    const route = api.get({ apiVersion: "networking.kroute.dev/v1alpha1", kind: "Route" }, "r1");
    expect(route?.status).toMatchObject({ conditions: [{ type: "Accepted", status: "True" }] });
  });

  it("turns an error status into a KubeApiError naming the request, the code and the server's message", async () => {
    const { kc } = await setUp();
    const failed = await KubeClient.for(kc)
      .apply(
        `${ROUTES}/missing/status`,
        { apiVersion: "networking.kroute.dev/v1alpha1", kind: "Route", metadata: { name: "missing" } },
        { fieldManager: "kroute-test" },
      )
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failed).toBeInstanceOf(KubeApiError);
    const error = failed as KubeApiError;
    expect(error.code).toBe(404);
    expect(error.reason).toBe("NotFound");
    expect(error.message).toMatch(
      /^PATCH \/apis\/networking.kroute.dev\/v1alpha1\/routes\/missing\/status: 404 .*missing/,
    );
  });

  it("sends the kubeconfig's bearer token, read for each request", async () => {
    const { api } = await setUp({ token: "secret-token" });
    const kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
    await expect(KubeClient.for(kc).list("/api/v1/nodes")).resolves.toMatchObject({ items: [] });
    const unauthenticated = new KubeConfig();
    unauthenticated.loadFromString(api.kubeconfig().replace("secret-token", "wrong"));
    await expect(KubeClient.for(unauthenticated).list("/api/v1/nodes")).rejects.toMatchObject({ code: 401 });
  });

  it("sends no watch stopped while its credentials were still being read (an exec plugin, say)", async () => {
    const { api, kc } = await setUp();
    let credentialsRead: () => void = () => {};
    const reading = new Promise<void>((resolve) => {
      credentialsRead = resolve;
    });
    const apply = kc.applyToHTTPSOptions.bind(kc);
    kc.applyToHTTPSOptions = async (options) => {
      await reading;
      return apply(options);
    };
    const stop = new AbortController();
    const watch = KubeClient.for(kc).watch(
      "/api/v1/nodes",
      { resourceVersion: "0" },
      () => undefined,
      stop.signal,
    );
    stop.abort(new Error("shutting down"));
    await expect(watch).rejects.toThrow("shutting down");
    credentialsRead();
    await new Promise((r) => setTimeout(r, 100));
    expect(api.requests((e) => e.path === "/api/v1/nodes")).toHaveLength(0);
    expect(api.openWatches()).toBe(0);
  });
});
