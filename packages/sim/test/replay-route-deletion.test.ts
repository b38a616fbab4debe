/**
 * Recorded route deletions at a key that holds more than one route: the replay takes
 * from its fake kernel the route Linux took, the one the notification describes (driver-fake
 * route-removal.ts), never the first of its owner at the key. Each case was checked
 * with `ip` and `ip monitor route` in a namespace on Linux 6.18.
 */
import type { IpAddr, KernelChange, KernelRoute, KernelSnapshot } from "@kroute/core";
import { createFakeKernel } from "@kroute/driver-fake";
import { describe, expect, it } from "vitest";
import { applyToFake } from "../src/external-change.ts";
import { hostDescription } from "../src/host-kernel.ts";
import { replay } from "./helpers.ts";
import { converged, exampleHost, NODE, recordedLog } from "./recorded-log.ts";

/** 192.168.50.0/24's connected route out of `dev` from 192.168.50.1, as the recording agent decodes it. */
const connectedOn = (dev: string) =>
  ({
    family: 4,
    table: 254,
    dst: "192.168.50.0/24",
    metric: 0,
    protocol: 2,
    scope: 253,
    target: { kind: "device", dev },
    prefsrc: "192.168.50.1",
  }) as unknown as KernelRoute;
const addressOn = (dev: string) => ({ ip: "192.168.50.1" as IpAddr, dev, prefixLength: 24 });

/** The routes to 192.168.50.0/24 in a dump, by device, in the kernel's order. */
function subnetRoutes(snapshot: KernelSnapshot | undefined): string[] {
  return (snapshot?.routes ?? []).flatMap((r) =>
    r.dst === "192.168.50.0/24" && r.target.kind === "device" ? [`${r.dst} dev ${r.target.dev}`] : [],
  );
}

describe("replay of a connected route deleted beside the same subnet's on another link", () => {
  // 192.168.50.1/24 put on eth0, then on eth1 too, as Linux allows: a second connected
  // route at the key, of the same owner and source, announced appended (NLM_F_APPEND,
  // as the recording agent's netlink driver decodes it on 6.18); then `ip route del
  // 192.168.50.0/24 dev eth1`, announced with eth1's route.
  const events = recordedLog(converged, [
    { kind: "address", action: "new", address: addressOn("eth0") },
    { kind: "route", action: "new", route: connectedOn("eth0") },
    { kind: "address", action: "new", address: addressOn("eth1") },
    { kind: "route", action: "new", route: connectedOn("eth1"), appended: true },
    { kind: "route", action: "del", route: connectedOn("eth1") },
  ]);

  it("takes eth1's, and the subnet stays on eth0, with no write and no violation", () => {
    const written: string[] = [];
    const { results, replayer } = replay(events, {
      onStep: (_node, step) => {
        if (step.seq <= converged.length + 1) return;
        for (const { op } of step.results) written.push(`${op.object} ${op.action}`);
      },
    });
    const node = replayer.nodes.get(NODE);
    expect(subnetRoutes(node?.snapshot({}))).toEqual(["192.168.50.0/24 dev eth0"]);
    expect(node?.lookup({ dst: "192.168.50.7" as IpAddr })).toMatchObject({ ok: true, dev: "eth0" });
    expect(results[0]?.violations).toEqual([]);
    expect(written).toEqual([]);
  });
});

/** A fake kernel of the example's host, and what it notifies from now on. */
function watchedKernel() {
  const kernel = createFakeKernel(hostDescription(exampleHost));
  const notified: KernelChange[] = [];
  kernel.watch().subscribe((change) => notified.push(change));
  return { kernel, notified };
}

const via = (family: 4 | 6, dst: string, ...hops: readonly [string, string][]) =>
  ({
    family,
    table: 254,
    dst,
    metric: family === 4 ? 0 : 1024,
    protocol: 4,
    scope: 0,
    target: { kind: "gateways", nexthops: hops.map(([gateway, dev]) => ({ gateway, dev, weight: 1 })) },
  }) as unknown as KernelRoute;

function routesTo(kernel: ReturnType<typeof watchedKernel>["kernel"], family: 4 | 6, dst: string): string[] {
  return kernel
    .listSync({ families: [family] })
    .routes.filter((r) => r.dst === dst)
    .flatMap((r) =>
      r.target.kind === "gateways" ? [r.target.nexthops.map((h) => h.gateway).join(",")] : [],
    );
}

// Two static routes at one key, `ip route append`ed by an operator.
const first = via(4, "192.0.2.0/24", ["10.114.0.3", "eth1"]);
const second = via(4, "192.0.2.0/24", ["198.51.100.7", "eth0"]);

describe("recorded deletions at a key of several routes, made to the fake", () => {
  it("IPv4 `ip route del D via G2` beside `D via G1` of the same owner takes G2's", () => {
    const { kernel } = watchedKernel();
    kernel.routeRequestSync(first, "append");
    kernel.routeRequestSync(second, "append");
    applyToFake({ kind: "route", action: "del", route: second }, kernel);
    expect(routesTo(kernel, 4, "192.0.2.0/24")).toEqual(["10.114.0.3"]);
  });

  it("IPv6 `ip -6 route del D via G2` of a multipath route takes that gateway alone", () => {
    const { kernel, notified } = watchedKernel();
    const both = via(6, "2001:db8:7::/64", ["fd00:114::3", "eth1"], ["fd00:114::4", "eth1"]);
    applyToFake({ kind: "route", action: "new", route: both }, kernel);
    notified.length = 0;
    // Linux announces the sibling's deletion alone, and nothing of the route left.
    applyToFake(
      { kind: "route", action: "del", route: via(6, "2001:db8:7::/64", ["fd00:114::4", "eth1"]) },
      kernel,
    );
    expect(routesTo(kernel, 6, "2001:db8:7::/64")).toEqual(["fd00:114::3"]);
    applyToFake(
      { kind: "route", action: "del", route: via(6, "2001:db8:7::/64", ["fd00:114::3", "eth1"]) },
      kernel,
    );
    expect(routesTo(kernel, 6, "2001:db8:7::/64")).toEqual([]);
  });

  it("a deletion naming a route the fake does not hold at its key changes nothing", () => {
    const { kernel, notified } = watchedKernel();
    applyToFake(
      { kind: "route", action: "new", route: via(4, "192.0.2.0/24", ["10.114.0.3", "eth1"]) },
      kernel,
    );
    notified.length = 0;
    applyToFake(
      { kind: "route", action: "del", route: via(4, "192.0.2.0/24", ["10.114.0.4", "eth1"]) },
      kernel,
    );
    expect(notified).toEqual([]);
    expect(routesTo(kernel, 4, "192.0.2.0/24")).toEqual(["10.114.0.3"]);
  });
});
