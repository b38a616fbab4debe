/** Routes from the API double, through the supervised list+watch loop, as engine events. */
import type { EventBody } from "@kroute/core";
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RouteCache } from "../../src/kube/route-cache.ts";
import { watchRoutes } from "../../src/kube/routes.ts";
import { collect, fastSupervisor, GROUP, route, sleep, startApi, until, VERSION } from "./support.ts";

type Collected = ReturnType<typeof collect<EventBody>>;

function names(event: EventBody | undefined): string[] {
  return event?.type === "route/resynced" ? event.routes.map((r) => r.metadata.name) : [];
}

function resyncs(c: Collected): EventBody[] {
  return c.items.filter((e) => e.type === "route/resynced");
}

describe("watchRoutes", () => {
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

  it("emits a snapshot after the list, then upserts and deletes, never status-only changes", async () => {
    api.apply(route("a"));
    api.apply(route("b"));
    const cache = new RouteCache();
    running = collect(
      watchRoutes(kc, { group: GROUP, version: VERSION, cache, ...fastSupervisor().options }),
    );
    await until(() => running!.items.length === 1, "the first snapshot");
    expect(names(running.items[0])).toEqual(["a", "b"]);
    const first = running.items[0];
    if (first?.type !== "route/resynced") throw new Error("expected a snapshot first");
    expect(first.routes[0]).toMatchObject({ metadata: { name: "a", generation: 1 }, spec: route("a").spec });
    expect(first.routes[0]).not.toHaveProperty("status");

    api.apply(route("c"));
    api.apply({ ...route("a"), status: { conditions: [{ type: "Accepted", status: "True" }] } });
    api.apply(route("b", { destinations: ["10.2.0.0/16"], gateways: ["192.168.1.1"] }));
    api.delete("Route", "c");
    await until(() => running!.items.length === 4, "three more events");
    expect(
      running.items.slice(1).map((e) => [e.type, e.type === "route/upserted" ? e.route.metadata.name : ""]),
    ).toEqual([
      ["route/upserted", "c"],
      ["route/upserted", "b"],
      ["route/deleted", ""],
    ]);
    const upsertedB = running.items[2];
    expect(upsertedB?.type === "route/upserted" && upsertedB.route.metadata.generation).toBe(2);
    // The status-only change did reach the cache, for the status writer.
    expect(cache.condition("a", "Accepted")?.status).toBe("True");
    expect(cache.get("c")).toBeUndefined();
  });

  it("recovers from a dropped watch without losing changes", async () => {
    api.apply(route("a"));
    const { options, restarts } = fastSupervisor();
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    api.faults.dropWatches("abrupt");
    api.apply(route("b"));
    await until(
      () => running!.items.some((e) => e.type === "route/upserted"),
      "the change made while the watch was down",
    );
    expect(restarts).toContainEqual({ watch: "routes", reason: "error" });
    // Resumed from the last resourceVersion: no relist was needed.
    expect(api.requests((r) => r.verb === "list")).toHaveLength(1);
  });

  it("restarts a stalled watch from its watchdog", async () => {
    const { options, restarts } = fastSupervisor({ stallTimeoutMs: 300 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    api.faults.stallWatches();
    api.apply(route("late"));
    await until(
      () => running!.items.some((e) => e.type === "route/upserted"),
      "the change after the stall",
      3000,
    );
    expect(restarts).toContainEqual({ watch: "routes", reason: "stalled" });
    expect(api.requests((r) => r.verb === "watch").length).toBeGreaterThanOrEqual(2);
  });

  it("does not mistake bookmarks on a quiet watch for a stall", async () => {
    const { options, restarts } = fastSupervisor({ stallTimeoutMs: 800 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    await new Promise((r) => setTimeout(r, 1600)); // bookmarks every 100 ms, nothing else
    expect(restarts).toEqual([]);
    expect(api.requests((r) => r.verb === "watch")).toHaveLength(1);
  });

  it("takes a slow watch's late events in order, as news and not as a stall", async () => {
    api.apply(route("a"));
    const { options, restarts } = fastSupervisor({ stallTimeoutMs: 1500 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    api.faults.slowWatches(600); // bookmarks (every 100 ms) arrive late too, but keep coming
    const changed = Date.now();
    api.apply(route("b"));
    api.apply(route("c"));
    api.delete("Route", "a");
    await until(() => running!.items.length === 4, "the three slowed changes");
    expect(Date.now() - changed).toBeGreaterThanOrEqual(580);
    expect(
      running.items.slice(1).map((e) => {
        if (e.type === "route/upserted") return [e.type, e.route.metadata.name];
        return [e.type, e.type === "route/deleted" ? e.name : ""];
      }),
    ).toEqual([
      ["route/upserted", "b"],
      ["route/upserted", "c"],
      ["route/deleted", "a"],
    ]);
    await sleep(1000);
    expect(restarts).toEqual([]);
    expect(api.requests((r) => r.verb === "watch")).toHaveLength(1);
  });

  it("relists on 410 Gone and emits a fresh snapshot", async () => {
    api.apply(route("a"));
    const { options, restarts } = fastSupervisor({ stallTimeoutMs: 300 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    // The watch misses changes, then history is compacted: resuming must fail with 410.
    api.faults.stallWatches();
    api.apply(route("b"));
    api.delete("Route", "a");
    api.compact();
    await until(() => resyncs(running!).length === 2, "a second snapshot");
    expect(names(resyncs(running)[1])).toEqual(["b"]);
    expect(restarts).toContainEqual({ watch: "routes", reason: "expired" });
    expect(api.requests((r) => r.verb === "list")).toHaveLength(2);
    // Events after the relist still flow.
    api.apply(route("c"));
    await until(
      () => running!.items.some((e) => e.type === "route/upserted" && e.route.metadata.name === "c"),
      "c",
    );
  });

  it("lists in pages from an API server without a watch cache, one consistent snapshot, and the watch from it brings the changes made meanwhile", async () => {
    await api.close();
    ({ api, kc } = await startApi({ watchCache: false }));
    for (const name of ["a", "b", "c", "d", "e"]) api.apply(route(name));
    let changedDuringList = false;
    // A hook on the second page's request: changes land between the pages.
    api.faults.failNext(1, {
      match: (r) => {
        if (r.verb === "list" && r.query.continue !== undefined && !changedDuringList) {
          changedDuringList = true;
          api.delete("Route", "a");
          api.apply(route("zz"));
          api.apply(route("d", { destinations: ["10.4.0.0/16"], gateways: ["192.168.1.1"] }));
        }
        return false;
      },
    });
    running = collect(
      watchRoutes(kc, { group: GROUP, version: VERSION, ...fastSupervisor({ listPageSize: 2 }).options }),
    );
    await until(() => running!.items.length === 4, "the snapshot and three changes");
    const lists = api.requests((r) => r.verb === "list");
    // The first page asks for any resourceVersion ("0"); later ones carry only their token.
    expect(
      lists.map((r) => [r.query.resourceVersion, r.query.limit, r.query.continue !== undefined]),
    ).toEqual([
      ["0", "2", false],
      [undefined, "2", true],
      [undefined, "2", true],
    ]);
    expect(names(running.items[0])).toEqual(["a", "b", "c", "d", "e"]);
    expect(
      running.items
        .slice(1)
        .map((e) => [
          e.type,
          e.type === "route/deleted" ? e.name : e.type === "route/upserted" ? e.route.metadata.name : "",
        ]),
    ).toEqual([
      ["route/deleted", "a"],
      ["route/upserted", "zz"],
      ["route/upserted", "d"],
    ]);
  });

  it("lists again, in one piece, when a page's continue token expired (410), keeping nothing of the pages before", async () => {
    await api.close();
    ({ api, kc } = await startApi({ watchCache: false }));
    for (const name of ["a", "b", "c", "d", "e"]) api.apply(route(name));
    let compacted = false;
    api.faults.failNext(1, {
      match: (r) => {
        if (r.verb === "list" && r.query.continue !== undefined && !compacted) {
          compacted = true;
          api.delete("Route", "a");
          api.apply(route("f"));
          api.compact();
        }
        return false;
      },
    });
    const { options, restarts } = fastSupervisor({ listPageSize: 2 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => resyncs(running!).length === 1, "the snapshot");
    expect(
      api.requests((r) => r.verb === "list").map((r) => [r.query.resourceVersion, r.query.limit, r.status]),
    ).toEqual([
      ["0", "2", 200],
      [undefined, "2", 410],
      ["0", undefined, 200],
    ]);
    expect(names(resyncs(running)[0])).toEqual(["b", "c", "d", "e", "f"]);
    await until(() => api.openWatches() === 1, "the watch");
    expect(api.requests((r) => r.verb === "watch")[0]?.query.resourceVersion).toBe(
      String(api.resourceVersion),
    );
    api.delete("Route", "b");
    await until(
      () => running!.items.some((e) => e.type === "route/deleted" && e.name === "b"),
      "b's deletion",
    );
    expect(running.items).toHaveLength(2);
    expect(restarts).toEqual([]);
  });

  it("spreads relists after 410 Gone over a random delay, so that agents whose watches all expired at once do not all list at once", async () => {
    api.apply(route("a"));
    const { options } = fastSupervisor({ stallTimeoutMs: 300, relistSpreadMs: 1000, random: () => 0.9 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    api.faults.stallWatches();
    api.apply(route("b"));
    api.compact();
    await until(() => resyncs(running!).length === 2, "the relist");
    const expiredWatch = api.requests((r) => r.verb === "watch")[1]!;
    const relist = api.requests((r) => r.verb === "list")[1]!;
    expect(relist.at - expiredWatch.at).toBeGreaterThanOrEqual(900);
  });

  it("retries failing lists with growing backoff, then syncs", async () => {
    api.apply(route("a"));
    api.faults.failNext(3, { match: (r) => r.verb === "list" });
    const { options, restarts } = fastSupervisor({ backoff: { initialMs: 50, maxMs: 1000, jitter: 0 } });
    const started = Date.now();
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => resyncs(running!).length === 1, "the snapshot after the failures");
    // 50 + 100 + 200 ms of backoff between the four attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(340);
    expect(restarts).toEqual([
      { watch: "routes", reason: "error" },
      { watch: "routes", reason: "error" },
      { watch: "routes", reason: "error" },
    ]);
    expect(api.requests((r) => r.verb === "list").map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(names(resyncs(running)[0])).toEqual(["a"]);
  });

  it("waits the Retry-After of a 429 (API Priority and Fairness) before listing or watching again, whatever its own backoff", async () => {
    api.apply(route("a"));
    api.faults.failNext(1, { status: 429, retryAfterSeconds: 1, match: (r) => r.verb === "list" });
    const { options, restarts } = fastSupervisor();
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => resyncs(running!).length === 1, "the snapshot after the 429");
    const lists = api.requests((r) => r.verb === "list");
    expect(lists.map((r) => r.status)).toEqual([429, 200]);
    expect(lists[1]!.at - lists[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(restarts).toEqual([{ watch: "routes", reason: "error" }]);

    await until(() => api.openWatches() === 1, "the watch to open");
    api.faults.failNext(1, { status: 503, retryAfterSeconds: 1, match: (r) => r.verb === "watch" });
    api.faults.dropWatches("abrupt");
    await until(() => api.requests((r) => r.verb === "watch").length === 3, "the watch after the 503");
    const watches = api.requests((r) => r.verb === "watch").slice(1);
    expect(watches.map((r) => r.status)).toEqual([503, 200]);
    expect(watches[1]!.at - watches[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it("backs off when every relist's watch expires at once, instead of relisting in a loop", async () => {
    api.faults.failNext(3, { status: 410, match: (r) => r.verb === "watch" });
    const { options, restarts } = fastSupervisor({ backoff: { initialMs: 100, maxMs: 1000, jitter: 0 } });
    const started = Date.now();
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "a watch that holds");
    // The first expiry relists at once; the next two, right after their relists, wait 100 then 200 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(restarts).toEqual([
      { watch: "routes", reason: "expired" },
      { watch: "routes", reason: "expired" },
      { watch: "routes", reason: "expired" },
    ]);
    expect(api.requests((r) => r.verb === "list")).toHaveLength(4);
    expect(resyncs(running)).toHaveLength(4);
  });

  it("retries a failing watch request with backoff, from the same resourceVersion", async () => {
    api.faults.failNext(2, { match: (r) => r.verb === "watch" });
    const { options, restarts } = fastSupervisor();
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open after the failures");
    const watches = api.requests((r) => r.verb === "watch");
    expect(watches.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(new Set(watches.map((r) => r.query.resourceVersion)).size).toBe(1);
    expect(restarts.filter((r) => r.reason === "error")).toHaveLength(2);
    expect(api.requests((r) => r.verb === "list")).toHaveLength(1);
  });

  it("resumes a watch the server ended on its timeout at once, without a relist or a restart", async () => {
    // Timeouts are routine and already spread (drawn at random): no spread delay after
    // one. The spread would hold the second watch for 90 s; without it the watch comes
    // back at once, well within the wait below however loaded the machine.
    const { options, restarts } = fastSupervisor({
      watchTimeoutSeconds: [1, 1],
      rewatchSpreadMs: 100_000,
      random: () => 0.9,
    });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.requests((r) => r.verb === "watch").length === 2, "a second watch", 30_000);
    api.apply(route("after"));
    await until(() => running!.items.some((e) => e.type === "route/upserted"), "the change on the new watch");
    expect(restarts).toEqual([]);
    expect(api.requests((r) => r.verb === "list")).toHaveLength(1);
    expect(api.requests((r) => r.verb === "watch").map((r) => r.query.timeoutSeconds)).toContain("1");
  });

  it("opens a watch the server closed before its timeout again after a random delay, so agents whose API server restarted do not all come back in the same instant", async () => {
    const { options, restarts } = fastSupervisor({ rewatchSpreadMs: 1000, random: () => 0.9 });
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    api.apply(route("a"));
    await until(() => running!.items.some((e) => e.type === "route/upserted"), "a change on the watch");
    const closedAt = Date.now();
    api.faults.dropWatches("clean");
    await until(() => api.requests((r) => r.verb === "watch").length === 2, "the watch again");
    expect(api.requests((r) => r.verb === "watch")[1]!.at - closedAt).toBeGreaterThanOrEqual(850);
    expect(restarts).toEqual([]);
    expect(api.requests((r) => r.verb === "list")).toHaveLength(1);
  });

  it("re-watches a quiet watch from its last bookmark, so history compacted since the list costs no relist", async () => {
    api.apply(route("a"));
    api.setHistoryLimit(5);
    const { options } = fastSupervisor();
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    expect(api.requests((r) => r.verb === "watch")[0]?.query.allowWatchBookmarks).toBe("true");
    // Other objects change: the Route watch gets no event, and the list's resourceVersion falls out of history.
    for (let i = 0; i < 10; i++) api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: `n${i}` } });
    const bookmarkRv = String(api.resourceVersion);
    api.sendBookmarks();
    await sleep(1100); // past the bookmark, and long enough that the watch's end is no failure
    api.faults.dropWatches("clean");
    await until(() => api.requests((r) => r.verb === "watch").length === 2, "the second watch");
    await until(() => api.openWatches() === 1, "the second watch to hold");
    expect(api.requests((r) => r.verb === "watch")[1]?.query.resourceVersion).toBe(bookmarkRv);
    expect(api.requests((r) => r.verb === "list")).toHaveLength(1);
    expect(resyncs(running)).toHaveLength(1);
  });

  it("watches the configured API group", async () => {
    const doks = "networking.doks.digitalocean.com";
    api.apply({ ...route("d"), apiVersion: `${doks}/${VERSION}` });
    api.apply(route("k"));
    running = collect(watchRoutes(kc, { group: doks, version: VERSION, ...fastSupervisor().options }));
    await until(() => running!.items.length === 1, "the snapshot");
    expect(names(running.items[0])).toEqual(["d"]);
  });

  it("stops its requests when unsubscribed", async () => {
    running = collect(watchRoutes(kc, { group: GROUP, version: VERSION, ...fastSupervisor().options }));
    await until(() => api.openWatches() === 1, "the watch to open");
    running.stop();
    await until(() => api.openWatches() === 0, "the watch to close");
  });
});
