/**
 * The resourceVersion the agent's lists ask for, as client-go's reflector chooses it:
 * "0" first and the last one seen on a relist, both served by the API server's watch
 * cache, and a consistent read from etcd only when the cache cannot serve that one.
 */
import type { EventBody } from "@kroute/core";
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isResourceVersionUnavailable } from "../../src/kube/paged-list.ts";
import { KubeClient } from "../../src/kube/rest.ts";
import { watchRoutes } from "../../src/kube/routes.ts";
import { realTimers, type Timers } from "../../src/kube/timing.ts";
import { collect, fastSupervisor, GROUP, route, startApi, until, VERSION } from "./support.ts";

type Collected = ReturnType<typeof collect<EventBody>>;

function resyncedNames(c: Collected): string[][] {
  return c.items
    .filter((e) => e.type === "route/resynced")
    .map((e) => (e.type === "route/resynced" ? e.routes.map((r) => r.metadata.name) : []));
}

describe("list resourceVersions", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  let running: Collected | undefined;

  beforeEach(async () => {
    ({ api, kc } = await startApi());
  });
  afterEach(async () => {
    running?.stop();
    await api.close();
  });

  it('lists first at resourceVersion "0": the watch cache answers it whole, in one response, whatever the page size', async () => {
    for (const name of ["a", "b", "c"]) api.apply(route(name));
    const { options } = fastSupervisor({ listPageSize: 2 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch");
    const lists = api.requests((r) => r.verb === "list");
    expect(lists.map((r) => [r.query.resourceVersion, r.query.limit, r.status])).toEqual([["0", "2", 200]]);
    expect(resyncedNames(running)).toEqual([["a", "b", "c"]]);
  });

  it("relists after 410 Gone not older than the last resourceVersion seen, without a limit, so the watch cache serves it even once that resourceVersion is compacted", async () => {
    api.apply(route("a"));
    const { options, restarts } = fastSupervisor({ stallTimeoutMs: 300 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    const seen = String(api.resourceVersion);
    api.faults.stallWatches();
    api.apply(route("b"));
    api.compact();
    await until(() => resyncedNames(running!).length === 2, "the relist");
    const relist = api.requests((r) => r.verb === "list")[1]!;
    expect([relist.query.resourceVersion, relist.query.limit, relist.status]).toEqual([seen, undefined, 200]);
    expect(resyncedNames(running)[1]).toEqual(["a", "b"]);
    // The stalled watch restarts from there, and that watch expires.
    expect(restarts.filter((r) => r.reason === "expired")).toHaveLength(1);
  });

  it("lists again at once as a consistent read (no resourceVersion) when the API server cannot serve the one asked for, then goes back to the last seen", async () => {
    api.apply(route("a"));
    // "At once" is the agent's decision, not a time: it asks for no wait between the
    // refused list and the next (by the clock of a loaded machine, at once can take long).
    const lists = () => api.requests((r) => r.verb === "list").length;
    const waits: { ms: number; afterLists: number }[] = [];
    const timers: Timers = {
      ...realTimers,
      setTimeout: (fn, ms) => {
        waits.push({ ms, afterLists: lists() });
        return realTimers.setTimeout(fn, ms);
      },
    };
    const { options, restarts } = fastSupervisor({ stallTimeoutMs: 300, timers });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    // The relist at the last resourceVersion seen is refused, as a lagging or restarted API server may.
    api.faults.failNext(1, {
      status: 410,
      match: (r) =>
        r.verb === "list" && r.query.resourceVersion !== undefined && r.query.resourceVersion !== "0",
    });
    api.faults.stallWatches();
    api.apply(route("b"));
    api.compact();
    await until(() => resyncedNames(running!).length === 2, "the relist");
    const relists = api.requests((r) => r.verb === "list").slice(1);
    expect(relists.map((r) => [r.query.resourceVersion === undefined, r.query.limit, r.status])).toEqual([
      [false, undefined, 410],
      [true, "500", 200],
    ]);
    expect(waits.filter((wait) => wait.afterLists === 2)).toEqual([]);
    expect(restarts.filter((r) => r.reason === "expired")).toHaveLength(2);
    expect(resyncedNames(running)[1]).toEqual(["a", "b"]);
    // The next relist is from the watch cache again.
    await until(() => api.openWatches() === 1, "the watch after the relist");
    api.faults.stallWatches();
    api.apply(route("c"));
    api.compact();
    await until(() => resyncedNames(running!).length === 3, "the third list");
    const third = api.requests((r) => r.verb === "list")[3]!;
    expect(third.query.resourceVersion).not.toBeUndefined();
    expect(third.query.limit).toBeUndefined();
  });

  it("takes a 504 Too large resource version (an API server behind the one last seen) as a resourceVersion it cannot serve, and no other 504", async () => {
    api.apply(route("a"));
    const client = KubeClient.for(kc);
    const path = `/apis/${GROUP}/${VERSION}/routes`;
    const tooLarge = await client
      .list(path, { resourceVersion: String(api.resourceVersion + 10) })
      .catch((err: unknown) => err);
    expect(isResourceVersionUnavailable(tooLarge)).toBe(true);
    api.faults.failNext(1, { status: 504 });
    const otherTimeout = await client.list(path, { resourceVersion: "0" }).catch((err: unknown) => err);
    expect(isResourceVersionUnavailable(otherTimeout)).toBe(false);
  });
});
