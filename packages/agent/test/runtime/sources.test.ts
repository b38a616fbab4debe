import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventBody, IpAddr, KernelRoute, Prefix } from "@kroute/core";
import { createFakeKernel } from "@kroute/driver-fake";
import { BehaviorSubject, type Subscription } from "rxjs";
import { afterEach, describe, expect, it } from "vitest";
import { chooseEngineSettings, UnsupportedFeatureError } from "../../src/runtime/features.ts";
import { type HostSourceOptions, hostSource } from "../../src/runtime/host-source.ts";
import { kernelSource, type ResyncReason } from "../../src/runtime/kernel-source.ts";
import { parseAgentSettings, SettingsError } from "../../src/settings.ts";
import { eventually, NODE_HOST } from "./harness.ts";

const subscriptions: Subscription[] = [];
/** Host roots the tests lay out; removed after each test. */
const roots: string[] = [];
afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function foreignRoute(dst: string, via: string, metric: number): KernelRoute {
  return {
    family: 4,
    table: 254,
    dst: dst as Prefix,
    metric,
    protocol: 4,
    scope: 0,
    target: { kind: "gateways", nexthops: [{ gateway: via as IpAddr, dev: "eth0", weight: 1 }] },
  };
}

describe("kernelSource", () => {
  it("starts with the given dump, then relays changes, and relists after an overflow", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const events: EventBody[] = [];
    const resyncs: ResyncReason[] = [];
    subscriptions.push(
      kernelSource(kernel, {
        node: "n",
        scope: { protocols: [201] },
        initial: kernel.listSync({ protocols: [201] }),
        resyncIntervalMs: 60_000,
        onResync: (reason) => resyncs.push(reason),
      }).subscribe((e) => events.push(e)),
    );
    expect(events.map((e) => e.type)).toEqual(["kernel/observed"]);

    kernel.applySync([{ object: "route", action: "add", to: foreignRoute("192.0.2.0/24", "10.0.0.9", 5) }]);
    expect(events.at(-1)).toMatchObject({ type: "kernel/changed", change: { kind: "route", action: "new" } });

    kernel.dropNotifications(1);
    kernel.applySync([
      { object: "route", action: "add", to: foreignRoute("198.51.100.0/24", "10.0.0.9", 5) },
    ]);
    await eventually(() => expect(events.filter((e) => e.type === "kernel/observed")).toHaveLength(2));
    expect(events.some((e) => e.type === "kernel/changed" && e.change.kind === "overflow")).toBe(true);
    expect(resyncs).toEqual(["start", "overflow"]);
  });

  it("takes a failed dump again shortly, not at the next periodic resync", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    let failures = 1;
    const flaky: typeof kernel = {
      ...kernel,
      list: (scope) => (failures-- > 0 ? Promise.reject(new Error("EBUSY")) : kernel.list(scope)),
    };
    const events: EventBody[] = [];
    const resyncs: ResyncReason[] = [];
    const errors: unknown[] = [];
    subscriptions.push(
      kernelSource(flaky, {
        node: "n",
        scope: { protocols: [201] },
        resyncIntervalMs: 60_000,
        onResync: (reason) => resyncs.push(reason),
        onError: (error) => errors.push(error),
      }).subscribe((e) => events.push(e)),
    );
    await eventually(() => expect(events.filter((e) => e.type === "kernel/observed")).toHaveLength(1));
    expect(errors).toHaveLength(1);
    expect(resyncs).toEqual(["start", "retry"]);
  });

  it("fires the resync timer and takes a fresh full dump each period", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const events: EventBody[] = [];
    subscriptions.push(
      kernelSource(kernel, { node: "n", scope: { protocols: [201] }, resyncIntervalMs: 40 }).subscribe((e) =>
        events.push(e),
      ),
    );
    await eventually(() =>
      expect(events.filter((e) => e.type === "kernel/observed").length).toBeGreaterThanOrEqual(3),
    );
    const timers = events.filter((e) => e.type === "timer/fired");
    expect(timers.length).toBeGreaterThanOrEqual(2);
    expect(timers[0]).toEqual({ type: "timer/fired", node: "n", timer: "resync" });
  });
});

describe("hostSource", () => {
  /** Node "n", kroute's protocol 201, no resolv.conf, and a quick settle after kernel changes. */
  const hostOptions = (apiServers: BehaviorSubject<readonly IpAddr[]>): HostSourceOptions => ({
    nodeName: "n",
    protocols: [201],
    metadataAddress: "169.254.169.254" as IpAddr,
    keepOriginal: [],
    resolvConf: [],
    hostRoot: "/",
    apiServers$: apiServers,
    dnsRefreshMs: 60_000,
    settleMs: 10,
  });

  it("emits host facts, and again when the original default route changes", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const apiServers = new BehaviorSubject<readonly IpAddr[]>(["192.0.2.10" as IpAddr]);
    const events: EventBody[] = [];
    subscriptions.push(hostSource(kernel, hostOptions(apiServers)).subscribe((e) => events.push(e)));
    await eventually(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({
      type: "host/observed",
      defaultGateways: [{ via: "10.0.0.1", dev: "eth0", metric: 100 }],
      apiServers: ["192.0.2.10"],
      protect: ["169.254.169.254/32"],
    });

    kernel.applySync([{ object: "route", action: "add", to: foreignRoute("0.0.0.0/0", "10.0.0.2", 10) }]);
    await eventually(() => expect(events).toHaveLength(2));
    expect(events[1]).toMatchObject({ defaultGateways: [{ via: "10.0.0.2", dev: "eth0", metric: 10 }] });

    apiServers.next(["192.0.2.10" as IpAddr, "192.0.2.11" as IpAddr]);
    await eventually(() => expect(events).toHaveLength(3));
    expect(events[2]).toMatchObject({ apiServers: ["192.0.2.10", "192.0.2.11"] });

    // A change that alters nothing leaves no event.
    apiServers.next(["192.0.2.11" as IpAddr, "192.0.2.10" as IpAddr]);
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toHaveLength(3);
  });

  it("never takes facts from an interrupted read of the main table: it reads again", async () => {
    const defaultV6: KernelRoute = {
      ...foreignRoute("::/0", "fe80::1", 1024),
      family: 6,
      target: { kind: "gateways", nexthops: [{ gateway: "fe80::1" as IpAddr, dev: "eth0", weight: 1 }] },
    };
    const kernel = createFakeKernel({
      ...NODE_HOST,
      routes: [...(NODE_HOST.routes ?? []), foreignRoute("192.0.2.0/24", "10.0.0.9", 100), defaultV6],
    });
    // An interrupted dump holds part of the routes: the fake's, here, lacks the IPv6 default.
    kernel.interruptNextDump();
    const events: EventBody[] = [];
    subscriptions.push(
      hostSource(kernel, hostOptions(new BehaviorSubject<readonly IpAddr[]>([]))).subscribe((e) =>
        events.push(e),
      ),
    );
    await eventually(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({
      defaultGateways: [
        { via: "10.0.0.1", dev: "eth0", metric: 100 },
        { via: "fe80::1", dev: "eth0", metric: 1024 },
      ],
    });
  });

  it("reads again when a default route expires, and once the router advertised it again, waits for the new expiry", async () => {
    const raDefault = (expiresInMs: number): KernelRoute => ({
      ...foreignRoute("::/0", "fe80::1", 1024),
      family: 6,
      protocol: 9,
      target: { kind: "gateways", nexthops: [{ gateway: "fe80::1" as IpAddr, dev: "eth0", weight: 1 }] },
      expiresInMs,
    });
    const kernel = createFakeKernel(NODE_HOST);
    const list = kernel.list.bind(kernel);
    // The kernel tells nothing when a route expires, nor when an advertisement renews it:
    // only reads see it. Here the first read finds 100 ms left, the second a renewed
    // route, the third an expired one.
    const lifetimes = [100, 1100, -50];
    const reads: number[] = [];
    kernel.list = async (scope) => {
      const snapshot = await list(scope);
      const left = lifetimes[Math.min(reads.length, lifetimes.length - 1)] as number;
      reads.push(Date.now());
      return { ...snapshot, routes: [...snapshot.routes, raDefault(left)] };
    };
    const events: EventBody[] = [];
    subscriptions.push(
      hostSource(kernel, hostOptions(new BehaviorSubject<readonly IpAddr[]>([]))).subscribe((e) =>
        events.push(e),
      ),
    );
    await eventually(() => expect(events).toHaveLength(1));
    expect(events[0]).toMatchObject({
      defaultGateways: [{}, { via: "fe80::1", expiresAt: expect.any(String) }],
    });
    await eventually(() => expect(events).toHaveLength(3));
    expect(events[1]).toMatchObject({
      defaultGateways: [{}, { via: "fe80::1", expiresAt: expect.any(String) }],
    });
    expect(events[2]).toMatchObject({ defaultGateways: [{ via: "10.0.0.1" }] });
    expect(events[2]).toMatchObject({ defaultGateways: { length: 1 } });
    // Each read waited for the expiry the one before it found, and none came after the last.
    expect((reads[1] as number) - (reads[0] as number)).toBeGreaterThanOrEqual(1000);
    expect((reads[2] as number) - (reads[1] as number)).toBeGreaterThanOrEqual(2000);
    await new Promise((r) => setTimeout(r, 100));
    expect(reads).toHaveLength(3);
  });

  it("waits for an expiry beyond what a timer can hold instead of reading again at once", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const list = kernel.list.bind(kernel);
    let reads = 0;
    kernel.list = async (scope) => {
      reads++;
      const snapshot = await list(scope);
      const thirtyDays = 30 * 86_400_000;
      return { ...snapshot, routes: snapshot.routes.map((r) => ({ ...r, expiresInMs: thirtyDays })) };
    };
    const events: EventBody[] = [];
    subscriptions.push(
      hostSource(kernel, hostOptions(new BehaviorSubject<readonly IpAddr[]>([]))).subscribe((e) =>
        events.push(e),
      ),
    );
    await eventually(() => expect(events).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 200));
    expect(reads).toBe(1);
  });

  it("reads again when a read fails, waiting longer each time, and says so", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const list = kernel.list.bind(kernel);
    const tried: number[] = [];
    kernel.list = (scope) => {
      tried.push(Date.now());
      return tried.length <= 3 ? Promise.reject(new Error("EBUSY")) : list(scope);
    };
    const failures: unknown[] = [];
    const events: EventBody[] = [];
    subscriptions.push(
      hostSource(kernel, {
        ...hostOptions(new BehaviorSubject<readonly IpAddr[]>([])),
        onReadError: (error) => failures.push(error),
      }).subscribe((e) => events.push(e)),
    );
    await eventually(() => expect(events).toHaveLength(1));
    expect(failures.map(String)).toEqual(["Error: EBUSY", "Error: EBUSY", "Error: EBUSY"]);
    // 10, 20 and 40 ms after the settle time of 10 ms: each wait at least the one before.
    const waits = tried.slice(1).map((at, i) => at - (tried[i] as number));
    expect(waits[2]).toBeGreaterThanOrEqual(35);
  });

  it("reads the host's resolvers under its root, follows a file replaced by rename, and tells a dangling link once", async () => {
    const root = mkdtempSync(join(tmpdir(), "kroute-host-root-"));
    roots.push(root);
    mkdirSync(join(root, "etc"));
    mkdirSync(join(root, "run/resolvconf"), { recursive: true });
    writeFileSync(join(root, "run/resolvconf/resolv.conf"), "nameserver 10.0.0.53\n");
    // Absolute, as resolvconf makes it: /run here is the host's, under the root.
    symlinkSync("/run/resolvconf/resolv.conf", join(root, "etc/resolv.conf"));
    symlinkSync("/run/NetworkManager/resolv.conf", join(root, "etc/resolv.nm"));
    const problems: string[] = [];
    const events: EventBody[] = [];
    subscriptions.push(
      hostSource(createFakeKernel(NODE_HOST), {
        ...hostOptions(new BehaviorSubject<readonly IpAddr[]>([])),
        resolvConf: ["/etc/resolv.conf", "/etc/resolv.nm"],
        hostRoot: root,
        dnsRefreshMs: 20,
        onResolvConfProblem: (problem) => problems.push(problem),
      }).subscribe((e) => events.push(e)),
    );
    await eventually(() => expect(events.at(-1)).toMatchObject({ dns: ["10.0.0.53"] }));

    // As resolvconf writes it: a new file renamed over the old one.
    writeFileSync(join(root, "run/resolvconf/resolv.conf.new"), "nameserver 10.0.0.54\n");
    renameSync(join(root, "run/resolvconf/resolv.conf.new"), join(root, "run/resolvconf/resolv.conf"));
    await eventually(() => expect(events.at(-1)).toMatchObject({ dns: ["10.0.0.54"] }));
    expect(problems).toEqual([
      `/etc/resolv.nm links to /run/NetworkManager, which is not under ${root} ` +
        "(/etc/resolv.nm -> /run/NetworkManager/resolv.conf): a dangling link, or a directory of the host the pod does not mount",
    ]);
  });
});

describe("chooseEngineSettings", () => {
  const settings = (...argv: string[]) => parseAgentSettings(argv, { NODE_NAME: "n" });
  const modern = { nexthopObjects: true, resilientGroups: true };

  it("uses resilient nexthop groups on a modern kernel", () => {
    const { engine, notes } = chooseEngineSettings(settings(), modern);
    expect(engine.nexthopMode).toBe("groups");
    expect(engine.resilient).toEqual({ buckets: 128, idleTimer: 120, unbalancedTimer: 0 });
    expect(notes).toEqual([]);
  });

  it("falls back to hash-threshold groups without resilient groups, and says so", () => {
    const { engine, notes } = chooseEngineSettings(settings(), {
      nexthopObjects: true,
      resilientGroups: false,
    });
    expect(engine.nexthopMode).toBe("groups");
    expect(engine.resilient).toBeUndefined();
    expect(notes.join()).toMatch(/resilient/);
  });

  it("falls back to multipath routes without nexthop objects in auto mode", () => {
    const { engine } = chooseEngineSettings(settings(), { nexthopObjects: false, resilientGroups: false });
    expect(engine.nexthopMode).toBe("multipath");
    expect(engine.resilient).toBeUndefined();
  });

  it("refuses explicit groups on a kernel without nexthop objects, as a settings error", () => {
    const choose = () =>
      chooseEngineSettings(settings("--nexthop-mode=groups"), {
        nexthopObjects: false,
        resilientGroups: false,
      });
    expect(choose).toThrow(UnsupportedFeatureError);
    // main exits 2 with the message for a SettingsError (not 1 with a stack trace).
    expect(choose).toThrow(SettingsError);
    expect(choose).toThrow(/^--nexthop-mode: "groups" needs nexthop objects/);
  });

  it("honours multipath when asked, even on a modern kernel", () => {
    expect(
      chooseEngineSettings(settings("--nexthop-mode=multipath", "--resilient-buckets=0"), modern).engine
        .nexthopMode,
    ).toBe("multipath");
  });
});
