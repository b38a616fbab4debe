/**
 * Small helpers shared by the conformance suite: building the routes and nexthops
 * the tests write, waiting for notifications (a real kernel delivers them
 * asynchronously), and a barrier proving that a notification did NOT come.
 */
import {
  comparePrefixes,
  type Family,
  type IpAddr,
  type KernelChange,
  type KernelNexthop,
  type KernelRoute,
  type LookupResult,
  type OpResult,
  type Prefix,
  type RouteTarget,
} from "@kroute/core";
import { expect } from "vitest";
import type { ConformanceHarness } from "./harness.ts";

/** The protocol tag of everything the suite writes ("kroute test"); dumps filter on it. */
export const PROTO = 250;
export const OTHER_PROTO = 251;
export const TABLE = 100;
export const MAIN = 254;

export const ip = (text: string): IpAddr => text as IpAddr;
export const prefix = (text: string): Prefix => text as Prefix;

export interface RouteSpec {
  readonly table?: number;
  readonly metric?: number;
  readonly protocol?: number;
}

/** A unicast route through gateways: `[gateway, dev, weight?]` each. */
export function viaRoute(
  dst: string,
  nexthops: readonly (readonly [string, string] | readonly [string, string, number])[],
  spec: RouteSpec = {},
): KernelRoute {
  return {
    family: dst.includes(":") ? 6 : 4,
    table: spec.table ?? TABLE,
    dst: prefix(dst),
    metric: spec.metric ?? 100,
    protocol: spec.protocol ?? PROTO,
    scope: 0,
    target: {
      kind: "gateways",
      nexthops: nexthops.map(([gateway, dev, weight]) => ({
        gateway: ip(gateway),
        dev,
        weight: weight ?? 1,
      })),
    },
  };
}

export function nexthopRoute(dst: string, id: number, spec: RouteSpec = {}): KernelRoute {
  return {
    family: dst.includes(":") ? 6 : 4,
    table: spec.table ?? TABLE,
    dst: prefix(dst),
    metric: spec.metric ?? 100,
    protocol: spec.protocol ?? PROTO,
    scope: 0,
    target: { kind: "nexthop-object", id },
  };
}

export function gatewayNexthop(id: number, gateway: string, dev: string): KernelNexthop {
  return {
    kind: "gateway",
    id,
    family: gateway.includes(":") ? 6 : 4,
    protocol: PROTO,
    gateway: ip(gateway),
    dev,
  };
}

export function groupNexthop(
  id: number,
  members: readonly (number | readonly [number, number])[],
  resilient?: { buckets: number; idleTimer: number; unbalancedTimer?: number },
): KernelNexthop {
  const base = {
    kind: "group" as const,
    id,
    protocol: PROTO,
    members: members.map((member) =>
      typeof member === "number" ? { id: member, weight: 1 } : { id: member[0], weight: member[1] },
    ),
  };
  return resilient === undefined
    ? { ...base, groupType: "mpath" }
    : {
        ...base,
        groupType: "resilient",
        resilient: {
          buckets: resilient.buckets,
          idleTimer: resilient.idleTimer,
          unbalancedTimer: resilient.unbalancedTimer ?? 0,
        },
      };
}

/** Inline nexthops in a canonical order, so dumps compare whatever order the kernel keeps. */
export function canonicalTarget(target: RouteTarget): RouteTarget {
  if (target.kind !== "gateways") return target;
  const nexthops = [...target.nexthops].sort((a, b) =>
    a.gateway === b.gateway ? (a.dev < b.dev ? -1 : 1) : a.gateway < b.gateway ? -1 : 1,
  );
  return { kind: "gateways", nexthops };
}

export function canonicalRoute(route: KernelRoute): KernelRoute {
  return { ...route, target: canonicalTarget(route.target) };
}

export function expectOk(results: readonly OpResult[]): void {
  expect(results.filter((result) => !result.ok)).toEqual([]);
}

export function expectErrno(
  result: OpResult | LookupResult | undefined,
  code: string,
  message?: string,
): void {
  expect(result?.ok).toBe(false);
  if (result === undefined || result.ok) return;
  expect({ code: result.code, errno: result.errno }).toEqual({ code, errno: ERRNO[code] });
  if (message !== undefined) expect(result.message.replace(/\.$/, "")).toBe(message);
}

const ERRNO: Record<string, number> = {
  ENOENT: 2,
  ESRCH: 3,
  EACCES: 13,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  EHOSTUNREACH: 113,
};

/**
 * Routes in key order (family, table, destination, TOS highest first, metric), whatever
 * order a dump had; routes of one key stay in the dump's order.
 */
export function sortRoutes(routes: readonly KernelRoute[]): KernelRoute[] {
  return [...routes].sort(
    (a, b) =>
      a.family - b.family ||
      a.table - b.table ||
      comparePrefixes(a.dst, b.dst) ||
      (b.tos ?? 0) - (a.tos ?? 0) ||
      a.metric - b.metric,
  );
}

/** Our routes (protocol PROTO) of some families, canonical and sorted, from a fresh dump. */
export async function ourRoutes(
  h: ConformanceHarness,
  families: readonly Family[] = [4, 6],
): Promise<KernelRoute[]> {
  const snapshot = await h.dataplane.list({ families, protocols: [PROTO] });
  expect(snapshot.complete).toBe(true);
  return sortRoutes(snapshot.routes.map(canonicalRoute));
}

export async function ourNexthops(h: ConformanceHarness): Promise<KernelNexthop[]> {
  const snapshot = await h.dataplane.list({ protocols: [PROTO] });
  return [...snapshot.nexthops];
}

/** Every notification the dataplane sends from now on. */
export function recordChanges(h: ConformanceHarness): { readonly changes: KernelChange[]; stop(): void } {
  const changes: KernelChange[] = [];
  const subscription = h.dataplane.watch().subscribe((change) => changes.push(change));
  return { changes, stop: () => subscription.unsubscribe() };
}

/** Retries an assertion (one that reads the kernel too) until it holds or the time is up (notifications arrive asynchronously). */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** A blackhole needs no link, so the barrier works whatever a test did to the links. */
const MARKER: KernelRoute = {
  family: 4,
  table: 199,
  dst: prefix("192.0.2.254/32"),
  metric: 0,
  protocol: PROTO,
  scope: 0,
  target: { kind: "special", type: "blackhole" },
};

/**
 * Waits until every notification caused before this call has been delivered: it
 * adds a marker route and waits for its announcement, which the kernel sends after
 * all earlier ones on the same socket. After it, a missing notification is missing.
 */
export async function notificationBarrier(
  h: ConformanceHarness,
  changes: readonly KernelChange[],
): Promise<void> {
  expectOk(await h.dataplane.apply([{ object: "route", action: "add", to: MARKER }]));
  await eventually(() =>
    expect(changes.some((change) => change.kind === "route" && change.route.dst === MARKER.dst)).toBe(true),
  );
  expectOk(await h.dataplane.apply([{ object: "route", action: "delete", from: MARKER }]));
}
