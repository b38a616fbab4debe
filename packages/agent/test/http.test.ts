import type { DesiredTable, IpAddr, Op } from "@kroute/core";
import { afterEach, describe, expect, it } from "vitest";
import { type HttpEndpoints, startHttp } from "../src/http.ts";
import { createMetrics } from "../src/metrics.ts";

let endpoints: HttpEndpoints | undefined;
afterEach(async () => {
  await endpoints?.close();
  endpoints = undefined;
});

/** Both endpoints on loopback ports of the system's choosing, always live and ready. */
async function startReady(metrics: ReturnType<typeof createMetrics>): Promise<HttpEndpoints> {
  return startHttp({
    health: { host: "127.0.0.1", port: 0 },
    metrics: { host: "127.0.0.1", port: 0 },
    state: { live: () => ({ live: true, reason: "ok" }), ready: () => ({ ready: true, reason: "ready" }) },
    registry: metrics.registry,
  });
}

async function get(
  address: { host: string; port: number },
  path: string,
): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${address.host}:${address.port}${path}`);
  return { status: response.status, body: await response.text() };
}

describe("health and metrics endpoints", () => {
  it("report liveness, readiness with its reason, and 404 elsewhere", async () => {
    let ready = { ready: false, reason: "waiting for: routes" };
    const metrics = createMetrics({ processMetrics: false });
    endpoints = await startHttp({
      health: { host: "127.0.0.1", port: 0 },
      metrics: { host: "127.0.0.1", port: 0 },
      state: { live: () => ({ live: true, reason: "ok" }), ready: () => ready },
      registry: metrics.registry,
    });
    expect(await get(endpoints.health, "/livez")).toEqual({ status: 200, body: "ok\n" });
    expect(await get(endpoints.health, "/readyz")).toEqual({ status: 503, body: "waiting for: routes\n" });
    ready = { ready: true, reason: "ready" };
    expect(await get(endpoints.health, "/readyz")).toEqual({ status: 200, body: "ready\n" });
    expect((await get(endpoints.health, "/metrics")).status).toBe(404);
    expect((await get(endpoints.metrics, "/readyz")).status).toBe(404);
    expect(endpoints.health.port).not.toBe(endpoints.metrics.port);
  });

  it("refuses other methods before doing any of the work a GET would", async () => {
    let gathered = 0;
    const registry = {
      contentType: "text/plain",
      metrics: () => {
        gathered += 1;
        return Promise.reject(new Error("gathering failed"));
      },
    } as unknown as ReturnType<typeof createMetrics>["registry"];
    endpoints = await startHttp({
      health: { host: "127.0.0.1", port: 0 },
      metrics: { host: "127.0.0.1", port: 0 },
      state: { live: () => ({ live: true, reason: "ok" }), ready: () => ({ ready: true, reason: "ready" }) },
      registry,
    });
    const address = endpoints.metrics;
    const response = await fetch(`http://${address.host}:${address.port}/metrics`, { method: "POST" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD");
    expect(gathered).toBe(0);
    // A GET does the work, and a failure in it is a 500, not a crash.
    expect((await get(address, "/metrics")).status).toBe(500);
    expect(gathered).toBe(1);
  });

  it("serve kroute_ metrics from the latest table, applies and events", async () => {
    const metrics = createMetrics({ processMetrics: false });
    endpoints = await startReady(metrics);
    const table: DesiredTable = {
      routes: [],
      nexthops: [],
      rules: [],
      gateways: [
        { gateway: "10.0.0.1" as IpAddr, state: "up", usedBy: ["a"] },
        { gateway: "10.0.0.2" as IpAddr, state: "down", usedBy: ["a"] },
      ],
      outcomes: [
        {
          route: "a",
          generation: 1,
          selected: true,
          accepted: true,
          destinations: [
            { route: "a", destination: "10.1.0.0/16", state: "programmed" },
            { route: "a", destination: "10.2.0.0/16", state: "programmed" },
            { route: "a", destination: "127.0.0.0/8", state: "invalid" },
          ],
        },
        {
          route: "b",
          generation: 1,
          selected: false,
          accepted: true,
          destinations: [{ route: "b", destination: "10.3.0.0/16", state: "pending" }],
        },
      ],
    };
    metrics.observeTable(table);
    const op = {
      object: "rule",
      action: "add",
      to: { family: 4, priority: 1, table: 135, protocol: 201 },
    } as Op;
    metrics.observeApply(
      [op, op],
      [{ ok: true }, { ok: false, errno: 17, code: "EEXIST", message: "File exists" }],
    );
    metrics.eventConsumed("route/upserted", Date.parse("2026-01-01T00:00:00Z"));
    metrics.watchRestarted("routes");
    metrics.observeReconcile(0.003);
    const { body } = await get(endpoints.metrics, "/metrics");
    expect(body).toContain('kroute_routes{state="programmed"} 2');
    expect(body).toContain('kroute_routes{state="invalid"} 1');
    expect(body).toContain('kroute_routes{state="pending"} 0');
    expect(body).toContain('kroute_gateways{state="down"} 1');
    expect(body).toContain('kroute_netlink_operations_total{object="rule",action="add",result="EEXIST"} 1');
    expect(body).toContain('kroute_events_total{type="route/upserted"} 1');
    expect(body).toContain("kroute_last_event_timestamp_seconds 1767225600");
    expect(body).toContain('kroute_watch_restarts_total{source="routes"} 1');
    // Only the Kubernetes side restarts: the kernel's notification stream is counted in resyncs.
    expect(body).toContain(
      "# HELP kroute_watch_restarts_total Restarts of a Kubernetes list and watch, by source (routes, node, node-route-table, apiserver-endpoints).",
    );
    // The help says what is timed: the kernel's apply of one batch (see agent.ts), nothing before it.
    expect(body).toContain(
      "# HELP kroute_reconcile_duration_seconds Time the kernel took to apply the ops of one reconcile step (one batch of netlink operations).",
    );
    expect(body).toContain("# TYPE kroute_reconcile_duration_seconds histogram");
    expect(body).toContain('kroute_reconcile_duration_seconds_bucket{le="0.0025"} 0');
    expect(body).toContain('kroute_reconcile_duration_seconds_bucket{le="0.005"} 1');
    expect(body).toContain("kroute_reconcile_duration_seconds_count 1");
    expect(body).toContain("kroute_reconcile_duration_seconds_sum 0.003");
  });

  it("serve the fail-static destinations and Routes, and drop them to 0 when it is over", async () => {
    const metrics = createMetrics({ processMetrics: false });
    endpoints = await startReady(metrics);
    const scrape = async () => (await get(endpoints!.metrics, "/metrics")).body;
    expect(await scrape()).toContain("kroute_routes_fail_static 0");
    const down = ["10.0.0.1", "10.0.0.2"] as IpAddr[];
    const table = (failStatic: boolean): DesiredTable => ({
      routes: [],
      nexthops: [],
      rules: [],
      gateways: down.map((gateway) => ({ gateway, state: failStatic ? "down" : "up", usedBy: ["a"] })),
      outcomes: [
        {
          route: "a",
          generation: 1,
          selected: true,
          accepted: true,
          destinations: ["10.1.0.0/16", "fd00::/64"].map((destination) => ({
            route: "a",
            destination,
            state: "programmed" as const,
            gateways: down,
            ...(failStatic ? { failStatic: true } : {}),
          })),
        },
        {
          route: "b",
          generation: 1,
          selected: false,
          accepted: true,
          destinations: [{ route: "b", destination: "10.3.0.0/16", state: "pending", failStatic: true }],
        },
      ],
    });
    metrics.observeTable(table(true));
    let body = await scrape();
    expect(body).toContain(
      "# HELP kroute_routes_fail_static Route destinations on this node kept on all their gateways because every one is down (fail-static).",
    );
    expect(body).toContain("kroute_routes_fail_static 2");
    expect(body).toContain("kroute_route_objects_fail_static 1");
    // Still counted by their state: kroute_routes sums to the node's destinations.
    expect(body).toContain('kroute_routes{state="programmed"} 2');
    metrics.observeTable(table(false));
    body = await scrape();
    expect(body).toContain("kroute_routes_fail_static 0");
    expect(body).toContain("kroute_route_objects_fail_static 0");
  });

  it("fails to start on an address in use, naming it", async () => {
    const metrics = createMetrics({ processMetrics: false });
    const state = {
      live: () => ({ live: true, reason: "ok" }),
      ready: () => ({ ready: true, reason: "ready" }),
    };
    endpoints = await startHttp({
      health: { host: "127.0.0.1", port: 0 },
      metrics: { host: "127.0.0.1", port: 0 },
      state,
      registry: metrics.registry,
    });
    await expect(
      startHttp({
        health: endpoints.health,
        metrics: { host: "127.0.0.1", port: 0 },
        state,
        registry: metrics.registry,
      }),
    ).rejects.toThrow(/EADDRINUSE/);
  });
});
