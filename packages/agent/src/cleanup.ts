/**
 * `kroute-agent cleanup`: removes everything kroute owns on this node, for uninstall:
 * routes and rules tagged with kroute's protocol, nexthops in kroute's id range with
 * its protocol (the agent's own test, core's ownsNexthop). Nothing else is touched; the
 * original default route, never changed by kroute, carries traffic again as soon as the
 * override is gone.
 */
import {
  type Dataplane,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type Op,
  type OpResult,
  ownsNexthop,
} from "@kroute/core";
import type { CleanupSettings } from "./settings.ts";

export interface CleanupReport {
  readonly ops: readonly Op[];
  readonly results: readonly OpResult[];
}

/** The delete ops, in an order the kernel accepts: routes, then groups, then their members, then rules. */
export function cleanupOps(
  snapshot: {
    routes: readonly KernelRoute[];
    nexthops: readonly KernelNexthop[];
    rules: readonly KernelRule[];
  },
  settings: CleanupSettings,
): Op[] {
  const routes = snapshot.routes.filter((r) => r.protocol === settings.protocol);
  const nexthops = snapshot.nexthops.filter((n) => ownsNexthop(n, settings));
  const rules = snapshot.rules.filter((r) => r.protocol === settings.protocol);
  return [
    ...routes.map((from): Op => ({ object: "route", action: "delete", from })),
    ...nexthops
      .filter((n) => n.kind === "group")
      .map((from): Op => ({ object: "nexthop", action: "delete", from })),
    ...nexthops
      .filter((n) => n.kind === "gateway")
      .map((from): Op => ({ object: "nexthop", action: "delete", from })),
    ...rules.map((from): Op => ({ object: "rule", action: "delete", from })),
  ];
}

export async function cleanup(dataplane: Dataplane, settings: CleanupSettings): Promise<CleanupReport> {
  const snapshot = await dataplane.list({ protocol: settings.protocol });
  const ops = cleanupOps(snapshot, settings);
  if (settings.dryRun || ops.length === 0) return { ops, results: [] };
  return { ops, results: await dataplane.apply(ops) };
}
