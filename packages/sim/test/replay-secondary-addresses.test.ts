/**
 * Recorded logs in which the gateways' subnet on eth1 has a secondary address
 * (10.114.0.9/20 beside 10.114.0.2/20) and the primary is removed. The recording agent
 * records each notification Linux 6.18 sends as a kernel/changed (checked with `ip
 * monitor all` in a namespace): with promote_secondaries=1 the primary's removal, its
 * connected route's, then the secondary announced anew and the connected route made
 * again from it; with =0 the secondary's removal first, then the primary's. The replay's
 * fake kernel promotes (driver-fake host-description.ts): both must replay to what the
 * node held, with no write and no violation.
 */
import type { EngineEvent, IpAddr, KernelChange, KernelRoute, KernelSnapshot } from "@kroute/core";
import { createFakeKernel } from "@kroute/driver-fake";
import { describe, expect, it } from "vitest";
import { applyToFake } from "../src/external-change.ts";
import { hostDescription } from "../src/host-kernel.ts";
import { json, replay } from "./helpers.ts";
import { example, exampleHost, NODE, recordedLog } from "./recorded-log.ts";

const primary = { ip: "10.114.0.2" as IpAddr, dev: "eth1", prefixLength: 20 };
const secondary = { ip: "10.114.0.9" as IpAddr, dev: "eth1", prefixLength: 20 };

/** The example's host facts with eth1's secondary after its primary, as the agent lists them (by address). */
const host = { ...exampleHost, addresses: [...exampleHost.addresses, secondary] };
/** The host facts the agent reads again after the change, eth1 left with these IPv4 addresses. */
const hostWith = (...kept: readonly IpAddr[]): EngineEvent => ({
  ...host,
  addresses: host.addresses.filter((a) => a.dev !== "eth1" || a.ip.includes(":") || kept.includes(a.ip)),
});
// The node, its host facts, the Route over 10.114.0.3 and .4, both probed up.
const converged = example
  .filter((event) => event.seq <= 5)
  .map((event) => (event.type === "host/observed" ? host : event));

/** eth1's connected route from an address, as the recording agent's netlink driver decodes it. */
const connectedFrom = (src: IpAddr) =>
  ({
    family: 4,
    table: 254,
    dst: "10.114.0.0/20",
    metric: 0,
    protocol: 2,
    scope: 253,
    target: { kind: "device", dev: "eth1" },
    prefsrc: src,
  }) as unknown as KernelRoute;

/** promote_secondaries=1 (systemd's): the secondary promoted. */
const promoted: (KernelChange | EngineEvent)[] = [
  { kind: "address", action: "del", address: primary },
  { kind: "route", action: "del", route: connectedFrom(primary.ip) },
  { kind: "address", action: "new", address: secondary },
  { kind: "route", action: "new", route: connectedFrom(secondary.ip) },
  hostWith(secondary.ip),
];

/** promote_secondaries=0 (the kernel's own default): the secondary removed first. */
const removedWith: (KernelChange | EngineEvent)[] = [
  { kind: "address", action: "del", address: secondary },
  { kind: "address", action: "del", address: primary },
  { kind: "route", action: "del", route: connectedFrom(primary.ip) },
  hostWith(),
];

const bothGateways = [{ dst: "0.0.0.0/5", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] }];

/** Replays the log; what was written after convergence, and the node's result. */
function replayAfterConvergence(events: readonly EngineEvent[]) {
  const written: string[] = [];
  const { results, replayer } = replay(events, {
    onStep: (_node, step) => {
      if (step.seq <= converged.length + 1) return;
      for (const { op, result } of step.results)
        written.push(`${op.object} ${op.action} ${result.ok ? "ok" : result.code}`);
    },
  });
  return { written, results, kernel: replayer.nodes.get(NODE)?.snapshot({}) };
}

/** eth1's IPv4 connected routes in a dump, with their source. */
function connectedOnEth1(snapshot: KernelSnapshot | undefined): string[] {
  return (snapshot?.routes ?? [])
    .filter(
      (r) => r.protocol === 2 && r.family === 4 && r.target.kind === "device" && r.target.dev === "eth1",
    )
    .map((r) => `${r.dst} src ${r.prefsrc}`);
}

describe("replay of a subnet's primary address removed beside a secondary", () => {
  it("promote_secondaries=1: the fake promotes as the node did, and the route stays", () => {
    const { written, results, kernel } = replayAfterConvergence(recordedLog(converged, promoted));
    expect(results[0]?.violations).toEqual([]);
    expect(written).toEqual([]);
    expect(json(results).nodes[NODE]?.routes).toEqual(bothGateways);
    expect(kernel?.addresses.filter((a) => a.dev === "eth1" && !a.ip.includes(":"))).toEqual([secondary]);
    expect(connectedOnEth1(kernel)).toEqual([`10.114.0.0/20 src ${secondary.ip}`]);
  });

  it("promote_secondaries=1: the connected route's recorded removal does not take the one made again", () => {
    const events = recordedLog(converged, promoted);
    // Up to the recorded deletion of the connected route from the removed primary.
    const routeDeleted = converged.length + 3;
    const { replayer } = replay(events, { until: routeDeleted });
    const node = replayer.nodes.get(NODE);
    expect(connectedOnEth1(node?.snapshot({}))).toEqual([`10.114.0.0/20 src ${secondary.ip}`]);
    expect(node?.lookup({ dst: "10.114.0.3" as IpAddr })).toMatchObject({ ok: true, dev: "eth1" });
  });

  it("promote_secondaries=0: each removal replays in the order the node announced them", () => {
    const { results, kernel } = replayAfterConvergence(recordedLog(converged, removedWith));
    expect(results[0]?.violations).toEqual([]);
    expect(kernel?.addresses.filter((a) => a.dev === "eth1" && !a.ip.includes(":"))).toEqual([]);
    // eth1 lost its last IPv4 address: Linux drops the route through it (replay-address-loss.test.ts).
    expect(json(results).nodes[NODE]?.routes).toEqual([]);
  });
});

/** A fake kernel of the host, and what it notifies from now on. */
function watchedKernel(promoteSecondaries: boolean) {
  const facts = host as Extract<EngineEvent, { type: "host/observed" }>;
  const kernel = createFakeKernel({ ...hostDescription(facts), promoteSecondaries });
  const notified: KernelChange[] = [];
  kernel.watch().subscribe((change) => notified.push(change));
  return { kernel, notified };
}

/** What the fake kernel already shows is not made again (external-change.ts). */
describe("recorded changes the fake kernel already made", () => {
  it("a secondary's removal listed after its primary's, which took it (promote_secondaries=0), changes nothing", () => {
    const { kernel, notified } = watchedKernel(false);
    applyToFake({ kind: "address", action: "del", address: primary }, kernel);
    const addresses = notified.flatMap((c) => (c.kind === "address" ? [`${c.action} ${c.address.ip}`] : []));
    expect(addresses).toEqual([`del ${secondary.ip}`, `del ${primary.ip}`]);
    notified.length = 0;
    applyToFake({ kind: "address", action: "del", address: secondary }, kernel);
    expect(notified).toEqual([]);
  });

  it("the promotion's recorded announcements, which the fake made with the primary's removal, change nothing", () => {
    const { kernel, notified } = watchedKernel(true);
    applyToFake({ kind: "address", action: "del", address: primary }, kernel);
    notified.length = 0;
    applyToFake({ kind: "route", action: "del", route: connectedFrom(primary.ip) }, kernel);
    applyToFake({ kind: "address", action: "new", address: secondary }, kernel);
    applyToFake({ kind: "route", action: "new", route: connectedFrom(secondary.ip) }, kernel);
    expect(notified).toEqual([]);
  });
});
