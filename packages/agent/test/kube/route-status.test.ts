/** The Route's Accepted condition: written once per generation, skipped when right, jittered. */
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RouteCache } from "../../src/kube/route-cache.ts";
import { acceptedCondition, PER_NODE_POINTER, RouteStatusWriter } from "../../src/kube/route-status.ts";
import { watchRoutes } from "../../src/kube/routes.ts";
import { realTimers, type Timers } from "../../src/kube/timing.ts";
import { outcome } from "./fixtures.ts";
import { collect, fastSupervisor, GROUP, route, startApi, until, VERSION } from "./support.ts";

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

function conditions(api: KubeApiDouble, name: string): Condition[] {
  const status = api.get("Route", name)?.status as { conditions?: Condition[] } | undefined;
  return status?.conditions ?? [];
}

function statusWrites(api: KubeApiDouble) {
  return api.requests(
    (r) => r.verb === "apply" && r.subresource === "status" && r.resource === `${GROUP}/${VERSION}/routes`,
  );
}

/** Real timers with a settable wall clock, for lastTransitionTime. */
function clockAt(iso: string): Timers & { set(iso: string): void } {
  let now = Date.parse(iso);
  return {
    ...realTimers,
    now: () => now,
    set: (t) => {
      now = Date.parse(t);
    },
  };
}

describe("RouteStatusWriter", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  const stops: (() => void)[] = [];

  beforeEach(async () => {
    ({ api, kc } = await startApi());
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) stop();
    await api.close();
  });

  /** A node: its own Route watch feeding its own cache, and its writer. */
  async function node(options: { random?: () => number; jitterMs?: number; timers?: Timers } = {}) {
    const cache = new RouteCache();
    const watch = collect(
      watchRoutes(kc, { group: GROUP, version: VERSION, cache, ...fastSupervisor().options }),
    );
    stops.push(watch.stop);
    await until(() => watch.items.length > 0, "the route snapshot");
    const writer = new RouteStatusWriter({
      kc,
      group: GROUP,
      version: VERSION,
      cache,
      jitterMs: options.jitterMs ?? 0,
      random: options.random ?? (() => 0),
      ...(options.timers === undefined ? {} : { timers: options.timers }),
    });
    stops.push(() => writer.close());
    return { cache, writer };
  }

  it("writes Accepted once per generation by server-side apply, and skips it when already right", async () => {
    api.apply(route("a"));
    const clock = clockAt("2026-01-01T00:00:00Z");
    const { cache, writer } = await node({ timers: clock });
    writer.updateOutcomes([outcome("a", 1, true, { reason: "Valid", message: "2 destinations" })]);
    await writer.settled();
    expect(statusWrites(api)).toHaveLength(1);
    expect(statusWrites(api)[0]?.query).toMatchObject({ fieldManager: "kroute-agent", force: "true" });
    expect(conditions(api, "a")).toEqual([
      {
        type: "Accepted",
        status: "True",
        reason: "Valid",
        message: `2 destinations. ${PER_NODE_POINTER}`,
        observedGeneration: 1,
        lastTransitionTime: "2026-01-01T00:00:00Z",
      },
    ]);
    const managers = (
      api.get("Route", "a")!.metadata as { managedFields: { manager: string; subresource?: string }[] }
    ).managedFields;
    expect(managers).toContainEqual(
      expect.objectContaining({ manager: "kroute-agent", subresource: "status" }),
    );

    // The same outcome again and again, before and after the watch shows the write: nothing more.
    writer.updateOutcomes([outcome("a", 1, true, { reason: "Valid", message: "2 destinations" })]);
    await until(() => cache.condition("a", "Accepted") !== undefined, "the watch to show the condition");
    for (let i = 0; i < 5; i++)
      writer.updateOutcomes([outcome("a", 1, true, { reason: "Valid", message: "2 destinations" })]);
    await writer.settled();
    expect(statusWrites(api)).toHaveLength(1);

    // A restarted agent (a fresh writer) sees the condition on the Route and writes nothing.
    const restarted = await node();
    restarted.writer.updateOutcomes([outcome("a", 1, true, { reason: "Valid", message: "2 destinations" })]);
    await restarted.writer.settled();
    expect(statusWrites(api)).toHaveLength(1);

    // A new generation, still accepted: written again, the transition time kept.
    api.apply(route("a", { destinations: ["10.1.0.0/16"], gateways: ["192.168.1.1"] }));
    clock.set("2026-01-01T00:05:00Z");
    writer.updateOutcomes([outcome("a", 2, true, { reason: "Valid", message: "1 destination" })]);
    await writer.settled();
    expect(statusWrites(api)).toHaveLength(2);
    expect(conditions(api, "a")[0]).toMatchObject({
      observedGeneration: 2,
      status: "True",
      lastTransitionTime: "2026-01-01T00:00:00Z",
    });

    // Refused: the status flips and the transition time moves.
    await until(
      () => cache.condition("a", "Accepted")?.observedGeneration === 2,
      "the watch to show generation 2",
    );
    api.apply(route("a", { destinations: [], gateways: [] }));
    clock.set("2026-01-01T00:10:00Z");
    writer.updateOutcomes([
      outcome("a", 3, false, { reason: "NoValidDestination", message: "spec.destinations: empty" }),
    ]);
    await writer.settled();
    expect(conditions(api, "a")[0]).toMatchObject({
      status: "False",
      reason: "NoValidDestination",
      observedGeneration: 3,
      lastTransitionTime: "2026-01-01T00:10:00Z",
    });
  });

  it("spreads writes with jitter, and a node that sees another's write skips its own", async () => {
    api.apply(route("a"));
    const first = await node({ random: () => 0, jitterMs: 1000 });
    const second = await node({ random: () => 0.9, jitterMs: 1000 });
    const started = Date.now();
    second.writer.updateOutcomes([outcome("a", 1)]);
    first.writer.updateOutcomes([outcome("a", 1)]);
    await first.writer.settled();
    await second.writer.settled();
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
    expect(statusWrites(api)).toHaveLength(1);
    expect(conditions(api, "a")[0]?.status).toBe("True");
  });

  it("keeps conditions written by others", async () => {
    api.apply({
      ...route("a"),
      status: { conditions: [{ type: "Audited", status: "True", reason: "Ok", message: "" }] },
    });
    const { writer } = await node();
    writer.updateOutcomes([outcome("a", 1)]);
    await writer.settled();
    expect(conditions(api, "a").map((c) => c.type)).toEqual(["Audited", "Accepted"]);
  });

  it("retries a failed write with backoff", async () => {
    api.apply(route("a"));
    const errors: unknown[] = [];
    const cache = new RouteCache();
    const watch = collect(
      watchRoutes(kc, { group: GROUP, version: VERSION, cache, ...fastSupervisor().options }),
    );
    stops.push(watch.stop);
    await until(() => watch.items.length > 0, "the snapshot");
    const writer = new RouteStatusWriter({
      kc,
      group: GROUP,
      version: VERSION,
      cache,
      jitterMs: 0,
      backoff: { initialMs: 20, jitter: 0 },
      onError: (_route, err) => errors.push(err),
    });
    stops.push(() => writer.close());
    api.faults.failNext(2, { match: (r) => r.verb === "apply" });
    writer.updateOutcomes([outcome("a", 1)]);
    await until(() => conditions(api, "a").length === 1, "the condition after retries");
    expect(errors).toHaveLength(2);
    expect(statusWrites(api).map((r) => r.status)).toEqual([500, 500, 200]);
  });

  it("retries a write the API server shed (429) no sooner than its Retry-After", async () => {
    api.apply(route("a"));
    const { writer } = await node();
    api.faults.failNext(1, { status: 429, retryAfterSeconds: 1, match: (r) => r.verb === "apply" });
    writer.updateOutcomes([outcome("a", 1)]);
    await until(() => conditions(api, "a").length === 1, "the condition after the 429");
    const writes = statusWrites(api);
    expect(writes.map((r) => r.status)).toEqual([429, 200]);
    expect(writes[1]!.at - writes[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it("writes again for a Route deleted and created again under its name (a new object, no status)", async () => {
    api.apply(route("a"));
    const { cache, writer } = await node();
    writer.updateOutcomes([outcome("a", 1)]);
    await writer.settled();
    await until(() => cache.condition("a", "Accepted") !== undefined, "the watch to show the condition");
    const firstUid = cache.get("a")?.metadata?.uid;
    api.delete("Route", "a");
    api.apply(route("a"));
    await until(() => {
      const uid = cache.get("a")?.metadata?.uid;
      return uid !== undefined && uid !== firstUid;
    }, "the watch to show the new Route");
    // The same name, generation and outcome as before, at once: the engine's table did not blink.
    writer.updateOutcomes([outcome("a", 1)]);
    await writer.settled();
    expect(statusWrites(api)).toHaveLength(2);
    expect(conditions(api, "a")).toEqual([
      expect.objectContaining({ type: "Accepted", observedGeneration: 1 }),
    ]);
  });

  it("drops a pending write when the Route leaves the outcomes", async () => {
    api.apply(route("a"));
    const { writer } = await node({ random: () => 0.5, jitterMs: 200 });
    writer.updateOutcomes([outcome("a", 1)]);
    writer.updateOutcomes([]);
    // Settled waits out a write still pending (its 100 ms delay) and any in flight: a
    // write that was not dropped would be in by then.
    await writer.settled();
    expect(statusWrites(api)).toHaveLength(0);
  });
});

describe("acceptedCondition", () => {
  it("points an accepted Route at the NodeRouteTables; a refused one only says why", () => {
    const at = "2026-01-01T00:00:00Z";
    expect(acceptedCondition(outcome("a", 1), undefined, at).message).toBe(
      `The Route is valid. ${PER_NODE_POINTER}`,
    );
    const refused = acceptedCondition(
      outcome("a", 1, false, { reason: "NoUsableDestination", message: "127.0.0.1/32: loopback" }),
      undefined,
      at,
    );
    expect(refused.message).toBe("127.0.0.1/32: loopback");
  });

  it("cuts a long list of refused destinations, not the pointer, at the API server's limit", () => {
    const long = Array.from(
      { length: 1024 },
      (_, i) => `10.${i >> 8}.${i & 255}.0/24: refused for a long reason`,
    );
    const c = acceptedCondition(
      outcome("a", 1, true, { message: long.join("; ") }),
      undefined,
      "2026-01-01T00:00:00Z",
    );
    const message = c.message ?? "";
    expect(message.length).toBeLessThanOrEqual(32_768);
    expect(message.startsWith("10.0.0.0/24: refused")).toBe(true);
    expect(message.endsWith(` ${PER_NODE_POINTER}`)).toBe(true);
  });

  it("falls back to a valid reason when the outcome's is not CamelCase", () => {
    const c = acceptedCondition(
      outcome("a", 4, false, { reason: "bad reason!" }),
      undefined,
      "2026-01-01T00:00:00Z",
    );
    expect(c).toMatchObject({ status: "False", reason: "Invalid", observedGeneration: 4 });
  });
});
