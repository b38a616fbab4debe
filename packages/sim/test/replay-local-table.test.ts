/**
 * A recorded log in which an address of each family is added to eth0 and removed. The
 * recording agent follows every route notification (driver-netlink notifications.ts),
 * table local's included: Linux makes and announces an IPv4 address's `local` and
 * `broadcast` routes there, and an IPv6 address's `local` route at metric 0; the
 * notifications below are in the order and form the agent recorded them on Linux 6.18.
 * The replay's fake kernel holds them as announced, and must let each go with its
 * recorded deletion: after the removal it holds what it held before the address came.
 */
import type { EngineEvent, IpAddr, KernelChange, KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { replay } from "./helpers.ts";
import { converged, exampleHost, NODE, recordedLog } from "./recorded-log.ts";

const v4 = { ip: "192.168.60.1" as IpAddr, dev: "eth0", prefixLength: 24 };
const v6 = { ip: "fd00:60::1" as IpAddr, dev: "eth0", prefixLength: 64 };
const kernelRoute = (route: Record<string, unknown>) =>
  ({ metric: 0, protocol: 2, ...route }) as unknown as KernelRoute;
const local4 = kernelRoute({
  family: 4,
  table: 255,
  dst: "192.168.60.1/32",
  scope: 254,
  target: { kind: "special", type: "local" },
  prefsrc: v4.ip,
});
const broadcast4 = kernelRoute({
  family: 4,
  table: 255,
  dst: "192.168.60.255/32",
  scope: 253,
  target: { kind: "special", type: "broadcast" },
  prefsrc: v4.ip,
});
const connected4 = kernelRoute({
  family: 4,
  table: 254,
  dst: "192.168.60.0/24",
  scope: 253,
  target: { kind: "device", dev: "eth0" },
  prefsrc: v4.ip,
});
const connected6 = kernelRoute({
  family: 6,
  table: 254,
  dst: "fd00:60::/64",
  metric: 256,
  scope: 0,
  target: { kind: "device", dev: "eth0" },
});
const local6 = kernelRoute({
  family: 6,
  table: 255,
  dst: "fd00:60::1/128",
  scope: 0,
  target: { kind: "special", type: "local" },
});

const added: (KernelChange | EngineEvent)[] = [
  { kind: "address", action: "new", address: v4 },
  { kind: "route", action: "new", route: local4 },
  { kind: "route", action: "new", route: connected4 },
  { kind: "route", action: "new", route: broadcast4 },
  // IPv6 announces the prefix route before the address.
  { kind: "route", action: "new", route: connected6 },
  { kind: "address", action: "new", address: v6 },
  { kind: "route", action: "new", route: local6 },
  { ...exampleHost, addresses: [...exampleHost.addresses, v4, v6] },
];
const removed: (KernelChange | EngineEvent)[] = [
  { kind: "address", action: "del", address: v4 },
  { kind: "route", action: "del", route: connected4 },
  { kind: "route", action: "del", route: broadcast4 },
  { kind: "route", action: "del", route: local4 },
  { kind: "address", action: "del", address: v6 },
  { kind: "route", action: "del", route: local6 },
  { kind: "route", action: "del", route: connected6 },
  exampleHost,
];
const events = recordedLog(converged, [...added, ...removed]);
const start = converged.length + 1;

/** The node's kernel, every table, after the event numbered `seq`. */
const kernelAfter = (seq: number) => replay(events, { until: seq }).replayer.nodes.get(NODE)?.snapshot({});

describe("replay of an address added and removed, with the routes Linux makes for it in table local", () => {
  it("holds them while the address is there, and ends with the kernel it started with, with no write and no violation", () => {
    const local = kernelAfter(start + added.length)?.routes.filter((r) => r.table === 255);
    expect(local?.map((r) => r.dst)).toEqual(["192.168.60.1/32", "192.168.60.255/32", "fd00:60::1/128"]);
    const written: string[] = [];
    const { results, replayer } = replay(events, {
      onStep: (_node, step) => {
        if (step.seq <= start) return;
        for (const { op } of step.results) written.push(`${op.object} ${op.action}`);
      },
    });
    expect(replayer.nodes.get(NODE)?.snapshot({})).toEqual(kernelAfter(start));
    expect(results[0]?.violations).toEqual([]);
    expect(written).toEqual([]);
  });
});
