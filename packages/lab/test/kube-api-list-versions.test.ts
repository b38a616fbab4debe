/**
 * The double's lists by resourceVersion and resourceVersionMatch, as the API concepts
 * ("Semantics for get and list") and the watch cache define them: what a client such as
 * client-go's reflector gets for "0", for "not older than" X, for exactly X, and for none.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createKubeApiDouble, type KubeApiDouble } from "../src/index.ts";

const G = "networking.kroute.dev";
const V = "v1alpha1";

interface ListBody {
  kind: string;
  code?: number;
  reason?: string;
  message?: string;
  details?: { causes?: { type: string }[]; retryAfterSeconds?: number };
  metadata: { resourceVersion: string; continue?: string };
  items: { metadata: { name: string }; spec: { destinations: string[] } }[];
}

function route(name: string, destination = "10.0.0.0/8") {
  return {
    apiVersion: `${G}/${V}`,
    kind: "Route",
    metadata: { name },
    spec: { destinations: [destination], gateways: ["192.168.1.1"] },
  };
}

describe("kube-api double: list resourceVersion semantics", () => {
  let api: KubeApiDouble;
  afterEach(async () => {
    await api.close();
  });

  const list = async (query: Record<string, string>): Promise<{ status: number; body: ListBody }> => {
    const response = await fetch(`${api.url}/apis/${G}/${V}/routes?${new URLSearchParams(query)}`);
    return { status: response.status, body: (await response.json()) as ListBody };
  };
  const names = (body: ListBody) => body.items.map((i) => i.metadata.name);

  it('serves resourceVersion "0" whole from the watch cache, ignoring limit; without a resourceVersion it pages from etcd', async () => {
    api = await createKubeApiDouble();
    for (const name of ["a", "b", "c"]) api.apply(route(name));
    const any = await list({ resourceVersion: "0", limit: "2" });
    expect(any.status).toBe(200);
    expect(names(any.body)).toEqual(["a", "b", "c"]);
    expect(any.body.metadata.continue).toBeUndefined();
    expect(any.body.metadata.resourceVersion).toBe(String(api.resourceVersion));
    const notOlder = await list({ resourceVersion: "0", resourceVersionMatch: "NotOlderThan", limit: "2" });
    expect(names(notOlder.body)).toEqual(["a", "b", "c"]);
    const mostRecent = await list({ limit: "2" });
    expect(names(mostRecent.body)).toEqual(["a", "b"]);
    expect(mostRecent.body.metadata.continue).toBeDefined();
  });

  it('pages resourceVersion "0" like any list when the watch cache is off', async () => {
    api = await createKubeApiDouble({ watchCache: false });
    for (const name of ["a", "b", "c"]) api.apply(route(name));
    const page = await list({ resourceVersion: "0", limit: "2" });
    expect(names(page.body)).toEqual(["a", "b"]);
    expect(page.body.metadata.continue).toBeDefined();
  });

  it("serves a resourceVersion without limit as not older than it: the latest state, even once it is compacted", async () => {
    api = await createKubeApiDouble();
    api.apply(route("a"));
    const old = String(api.resourceVersion);
    api.apply(route("a", "10.1.0.0/16"));
    api.apply(route("b"));
    api.compact();
    const latest = await list({ resourceVersion: old });
    expect(latest.status).toBe(200);
    expect(names(latest.body)).toEqual(["a", "b"]);
    expect(latest.body.items[0]!.spec.destinations).toEqual(["10.1.0.0/16"]);
    expect(latest.body.metadata.resourceVersion).toBe(String(api.resourceVersion));
    expect((await list({ resourceVersion: old, resourceVersionMatch: "NotOlderThan" })).status).toBe(200);
  });

  it("serves Exact (and, legacy, a resourceVersion with a limit) at that resourceVersion, and 410 Expired once it is compacted", async () => {
    api = await createKubeApiDouble();
    api.apply(route("a"));
    const old = String(api.resourceVersion);
    api.apply(route("a", "10.1.0.0/16"));
    api.apply(route("b"));
    const exact = await list({ resourceVersion: old, resourceVersionMatch: "Exact" });
    expect(names(exact.body)).toEqual(["a"]);
    expect(exact.body.items[0]!.spec.destinations).toEqual(["10.0.0.0/8"]);
    expect(exact.body.metadata.resourceVersion).toBe(old);
    const legacy = await list({ resourceVersion: old, limit: "5" });
    expect(names(legacy.body)).toEqual(["a"]);
    api.compact();
    for (const query of [
      { resourceVersion: old, resourceVersionMatch: "Exact" },
      { resourceVersion: old, limit: "5" },
    ]) {
      const expired = await list(query);
      expect(expired.status).toBe(410);
      expect(expired.body).toMatchObject({ kind: "Status", code: 410, reason: "Expired" });
    }
  });

  it("answers a resourceVersion it has not reached with 504 Too large resource version, its cause named", async () => {
    api = await createKubeApiDouble();
    api.apply(route("a"));
    const future = String(api.resourceVersion + 5);
    const tooLarge = await list({ resourceVersion: future });
    expect(tooLarge.status).toBe(504);
    expect(tooLarge.body).toMatchObject({ code: 504, reason: "Timeout" });
    expect(tooLarge.body.message).toContain(`Too large resource version: ${future}`);
    expect(tooLarge.body.details?.causes).toEqual([
      { type: "ResourceVersionTooLarge", message: "Too large resource version" },
    ]);
  });

  it('refuses resourceVersionMatch without a resourceVersion, beside continue, Exact of "0", or unknown, with 422 naming the field', async () => {
    api = await createKubeApiDouble();
    api.apply(route("a"));
    api.apply(route("b"));
    const first = await list({ limit: "1" });
    const refusals = [
      [{ resourceVersionMatch: "NotOlderThan" }, "forbidden unless resourceVersion is provided"],
      [{ resourceVersion: "0", resourceVersionMatch: "Exact" }, 'forbidden for resourceVersion "0"'],
      [{ resourceVersion: "1", resourceVersionMatch: "exact" }, 'Unsupported value: "exact"'],
      [
        {
          resourceVersionMatch: "NotOlderThan",
          resourceVersion: "1",
          continue: first.body.metadata.continue!,
        },
        "forbidden when continue is provided",
      ],
    ] as const;
    for (const [query, message] of refusals) {
      const refused = await list(query);
      expect(refused.status).toBe(422);
      expect(refused.body).toMatchObject({ kind: "Status", reason: "Invalid" });
      expect(refused.body.message).toContain("resourceVersionMatch");
      expect(refused.body.message).toContain(message);
    }
    const garbage = await list({ resourceVersion: "abc" });
    expect(garbage.status).toBe(400);
    expect(garbage.body.message).toContain('"abc"');
  });
});
