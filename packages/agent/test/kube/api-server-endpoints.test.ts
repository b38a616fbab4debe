/** The API server's real endpoints, from the `kubernetes` Service's EndpointSlices. */
import type { IpAddr } from "@kroute/core";
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchApiServerEndpoints } from "../../src/kube/api-server-endpoints.ts";
import { collect, fastSupervisor, startApi, until } from "./support.ts";

function slice(name: string, service: string, endpoints: { addresses: string[]; ready?: boolean }[]) {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: "default", labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    endpoints: endpoints.map((e) => ({
      addresses: e.addresses,
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
    })),
  };
}

describe("watchApiServerEndpoints", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  let running: ReturnType<typeof collect<readonly IpAddr[]>> | undefined;

  beforeEach(async () => {
    ({ api, kc } = await startApi());
  });
  afterEach(async () => {
    running?.stop();
    await api.close();
  });

  it("gives the ready endpoint addresses, sorted, and follows changes", async () => {
    api.apply({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "kubernetes", namespace: "default" },
      spec: { clusterIP: "10.96.0.1" },
    });
    api.apply(
      slice("kubernetes", "kubernetes", [
        { addresses: ["10.0.0.12"] },
        { addresses: ["10.0.0.11"], ready: true },
      ]),
    );
    api.apply(slice("other", "web", [{ addresses: ["10.0.9.9"] }]));
    running = collect(watchApiServerEndpoints(kc, fastSupervisor().options));
    await until(() => running!.items.length === 1, "the first addresses");
    expect(running.items[0]).toEqual(["10.0.0.11", "10.0.0.12"]);

    api.apply(
      slice("kubernetes", "kubernetes", [
        { addresses: ["10.0.0.12"], ready: false },
        { addresses: ["10.0.0.11"] },
      ]),
    );
    await until(() => running!.items.length === 2, "the unready endpoint to go");
    expect(running.items[1]).toEqual(["10.0.0.11"]);

    api.apply(slice("other", "web", [{ addresses: ["10.0.9.8"] }]));
    api.apply(slice("kubernetes-v6", "kubernetes", [{ addresses: ["fd00::0:1"] }]));
    await until(() => running!.items.length === 3, "a second slice");
    expect(running.items[2]).toEqual(["10.0.0.11", "fd00::1"]);
    const requests = api.requests((r) => r.resource === "discovery.k8s.io/v1/endpointslices");
    for (const r of requests) {
      expect(r.namespace).toBe("default");
      expect(r.query.labelSelector).toBe("kubernetes.io/service-name=kubernetes");
    }
  });
});
