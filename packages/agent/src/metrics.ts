/**
 * The agent's Prometheus metrics, prefix `kroute_`, in a registry of their own (no
 * global state: several agents can run in one process, as tests and the simulator do).
 */
import type { DesiredTable, DestinationState, GatewayStatus, Op, OpResult } from "@kroute/core";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ResyncReason } from "./runtime/kernel-source.ts";

const DESTINATION_STATES: readonly DestinationState[] = [
  "programmed",
  "pending",
  "failed",
  "conflicted",
  "invalid",
  "skipped",
];
const GATEWAY_STATES: readonly GatewayStatus["state"][] = ["up", "down", "unknown", "unprobed"];
const STATUS_WRITE_KINDS = ["route_status", "node_route_table", "event"] as const;
export type StatusWriteKindLabel = (typeof STATUS_WRITE_KINDS)[number];

export interface AgentMetrics {
  readonly registry: Registry;
  /** Routes (destinations) and gateways by state, from the latest desired table. */
  observeTable(table: DesiredTable): void;
  observeReconcile(seconds: number): void;
  observeApply(ops: readonly Op[], results: readonly OpResult[]): void;
  watchRestarted(source: string): void;
  eventConsumed(type: string, atMs: number): void;
  resync(reason: ResyncReason): void;
  statusWriteFailed(kind: StatusWriteKindLabel): void;
  /** A Kubernetes Event dropped by the node's overall Event limit. */
  kubernetesEventDropped(): void;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "kroute_" });
  const routes = new Gauge({
    name: "kroute_routes",
    help: "Route destinations on this node by state (programmed, pending, failed, conflicted, invalid, skipped: this node is their gateway).",
    labelNames: ["state"],
    registers: [registry],
  });
  // Not a kroute_routes state: a fail-static destination is also programmed (or pending,
  // or failed), and kroute_routes sums to the node's destinations.
  const failStaticRoutes = new Gauge({
    name: "kroute_routes_fail_static",
    help: "Route destinations on this node kept on all their gateways because every one is down (fail-static).",
    registers: [registry],
  });
  const failStaticRouteObjects = new Gauge({
    name: "kroute_route_objects_fail_static",
    help: "Routes with at least one destination fail-static on this node.",
    registers: [registry],
  });
  const gateways = new Gauge({
    name: "kroute_gateways",
    help: "Distinct gateways on this node by health state.",
    labelNames: ["state"],
    registers: [registry],
  });
  const reconcile = new Histogram({
    name: "kroute_reconcile_duration_seconds",
    // What agent.ts measures: the dataplane's apply of one batch of ops, not the engine's
    // reduce and diff before it (steps without ops are not observed).
    help: "Time the kernel took to apply the ops of one reconcile step (one batch of netlink operations).",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const netlinkOps = new Counter({
    name: "kroute_netlink_operations_total",
    help: "Kernel operations applied, by object, action and result (ok, or the errno name); none under --dry-run.",
    labelNames: ["object", "action", "result"],
    registers: [registry],
  });
  const watchRestarts = new Counter({
    name: "kroute_watch_restarts_total",
    // The kernel's notification stream has no restarts: an overflow is a resync (kroute_kernel_resyncs_total).
    help: "Restarts of a Kubernetes list and watch, by source (routes, node, node-route-table, apiserver-endpoints).",
    labelNames: ["source"],
    registers: [registry],
  });
  const lastEvent = new Gauge({
    name: "kroute_last_event_timestamp_seconds",
    help: "Unix time of the last event the engine consumed.",
    registers: [registry],
  });
  const events = new Counter({
    name: "kroute_events_total",
    help: "Events consumed by the engine, by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  const resyncs = new Counter({
    name: "kroute_kernel_resyncs_total",
    help: "Full kernel dumps, by reason (start, periodic, overflow, retry: the last one was incomplete or failed).",
    labelNames: ["reason"],
    registers: [registry],
  });
  const statusWriteFailures = new Counter({
    name: "kroute_status_write_failures_total",
    help: "Writes to the cluster that failed (refused or unanswered), by kind: route_status and node_route_table are retried, a lost event is not.",
    labelNames: ["kind"],
    registers: [registry],
  });
  const kubernetesEventsDropped = new Counter({
    name: "kroute_kubernetes_events_dropped_total",
    help: "Kubernetes Events not written because the node's overall Event limit (25, then one per 30 s) was spent.",
    registers: [registry],
  });
  for (const state of DESTINATION_STATES) routes.set({ state }, 0);
  // At zero from the start: an alert on their rate sees the first failure.
  for (const kind of STATUS_WRITE_KINDS) statusWriteFailures.inc({ kind }, 0);
  for (const state of GATEWAY_STATES) gateways.set({ state }, 0);

  return {
    registry,
    observeTable(table) {
      const byState = new Map<string, number>();
      let failStatic = 0;
      let failStaticObjects = 0;
      for (const outcome of table.outcomes) {
        if (!outcome.selected) continue;
        let stuck = 0;
        for (const d of outcome.destinations) {
          byState.set(d.state, (byState.get(d.state) ?? 0) + 1);
          if (d.failStatic === true) stuck++;
        }
        failStatic += stuck;
        if (stuck > 0) failStaticObjects++;
      }
      for (const state of DESTINATION_STATES) routes.set({ state }, byState.get(state) ?? 0);
      failStaticRoutes.set(failStatic);
      failStaticRouteObjects.set(failStaticObjects);
      const gatewayStates = new Map<string, number>();
      for (const g of table.gateways) gatewayStates.set(g.state, (gatewayStates.get(g.state) ?? 0) + 1);
      for (const state of GATEWAY_STATES) gateways.set({ state }, gatewayStates.get(state) ?? 0);
    },
    observeReconcile(seconds) {
      reconcile.observe(seconds);
    },
    observeApply(ops, results) {
      ops.forEach((op, i) => {
        const result = results[i];
        const label = result === undefined ? "missing" : result.ok ? "ok" : result.code;
        netlinkOps.inc({ object: op.object, action: op.action, result: label });
      });
    },
    watchRestarted(source) {
      watchRestarts.inc({ source });
    },
    eventConsumed(type, atMs) {
      events.inc({ type });
      lastEvent.set(atMs / 1000);
    },
    resync(reason) {
      resyncs.inc({ reason });
    },
    statusWriteFailed(kind) {
      statusWriteFailures.inc({ kind });
    },
    kubernetesEventDropped() {
      kubernetesEventsDropped.inc();
    },
  };
}
