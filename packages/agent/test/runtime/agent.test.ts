import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeLog, type IpAddr, type KernelRoute, type RouteObject, routeOutcome } from "@kroute/core";
import { createFakeKernel, type FakeKernel } from "@kroute/driver-fake";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup } from "../../src/cleanup.ts";
import { type AgentHandle, startAgent } from "../../src/runtime/agent.ts";
import { parseCleanupSettings, SettingsError } from "../../src/settings.ts";
import {
  capturedLog,
  eventually,
  HandCluster,
  NODE_HOST,
  quietLogger,
  routeObject,
  testSettings,
} from "./harness.ts";

const up = () => Promise.resolve({ ok: true as const, rttMs: 1 });

const agents: AgentHandle[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop();
});

async function start(kernel: FakeKernel, cluster: HandCluster, extra: string[] = []): Promise<AgentHandle> {
  const agent = await startAgent(testSettings(extra), {
    cluster,
    dataplane: kernel,
    probe: up,
    logger: quietLogger,
  });
  agents.push(agent);
  return agent;
}

/**
 * An earlier agent that programmed `routes` and stopped, leaving them in the kernel:
 * where a restart starts from.
 */
async function programmedAndStopped(kernel: FakeKernel, routes: readonly RouteObject[]): Promise<void> {
  const cluster = new HandCluster();
  const earlier = await start(kernel, cluster);
  cluster.resync(routes);
  await eventually(() => expect(earlier.state().derived.mismatch.size).toBe(0));
  await eventually(() => expect(owned(kernel).length).toBeGreaterThan(0));
  await earlier.stop();
  agents.splice(agents.indexOf(earlier), 1);
}

function owned(kernel: FakeKernel): KernelRoute[] {
  return [...kernel.listSync({ protocols: [201] }).routes].sort((a, b) => a.dst.localeCompare(b.dst));
}

/** kroute's main-table routes: where a destination takes the node's traffic (the reply table holds the halves too). */
function mainTable(kernel: FakeKernel): KernelRoute[] {
  return owned(kernel).filter((r) => r.table === 254);
}

function gatewaysOf(kernel: FakeKernel, route: KernelRoute): string[] {
  if (route.target.kind === "gateways") return route.target.nexthops.map((n) => n.gateway).sort();
  if (route.target.kind !== "nexthop-object") return [];
  const { nexthops } = kernel.listSync({ protocols: [201] });
  const byId = new Map(nexthops.map((n) => [n.id, n]));
  const resolve = (id: number): string[] => {
    const nh = byId.get(id);
    if (nh === undefined) return [];
    if (nh.kind === "opaque") return [];
    return nh.kind === "gateway" ? [nh.gateway] : nh.members.flatMap((m) => resolve(m.id));
  };
  return resolve(route.target.id).sort();
}

const twoGateways = { destinations: ["192.0.2.0/24", "198.51.100.0/24"], gateways: ["10.0.0.3", "10.0.0.4"] };

describe("the agent runtime on the fake kernel", () => {
  it("programs selected Routes, becomes ready after every source synced", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const agent = await start(kernel, cluster);
    cluster.resync([routeObject("egress", twoGateways)]);
    await agent.ready;
    await eventually(() => {
      const routes = owned(kernel);
      expect(routes.map((r) => r.dst)).toEqual(["192.0.2.0/24", "198.51.100.0/24"]);
      for (const r of routes) expect(gatewaysOf(kernel, r)).toEqual(["10.0.0.3", "10.0.0.4"]);
    });
    const ready = await fetch(`http://127.0.0.1:${agent.endpoints.health.port}/readyz`);
    expect(ready.status).toBe(200);
  });

  it("sees the host's resolvers change within seconds, not at the next 5-minute resync", async () => {
    const root = mkdtempSync(join(tmpdir(), "kroute-host-"));
    mkdirSync(join(root, "etc"));
    const resolvConf = join(root, "etc/resolv.conf");
    writeFileSync(resolvConf, "nameserver 10.0.0.53\n");
    const agent = await start(createFakeKernel(NODE_HOST), new HandCluster(), [
      `--host-root=${root}`,
      "--resolv-conf=/etc/resolv.conf",
    ]);
    await eventually(() => expect(agent.state().host.facts?.dns).toEqual(["10.0.0.53"]));
    // As dhclient does: a new file renamed over the old one.
    writeFileSync(`${resolvConf}.new`, "nameserver 10.0.0.54\n");
    renameSync(`${resolvConf}.new`, resolvConf);
    // Seconds, against the 5 minutes of the resync: the wait's bound tells them apart.
    await eventually(() => expect(agent.state().host.facts?.dns).toEqual(["10.0.0.54"]));
  });

  it("times every kernel batch, and only those, in the reconcile duration histogram", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const batches: number[] = [];
    const apply = kernel.apply.bind(kernel);
    kernel.apply = (ops) => {
      batches.push(ops.length);
      return apply(ops);
    };
    const cluster = new HandCluster();
    const agent = await start(kernel, cluster);
    cluster.resync([routeObject("egress", twoGateways)]);
    await agent.ready;
    await eventually(() => expect(owned(kernel)).toHaveLength(2));
    const observations = async () => {
      const text = await agent.metrics.registry.getSingleMetricAsString("kroute_reconcile_duration_seconds");
      return Number(/^kroute_reconcile_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
    };
    await eventually(async () => {
      expect(batches.length).toBeGreaterThan(0);
      expect(await observations()).toBe(batches.length);
    });
  });

  it("routes no destination that could hold a protected address before the host facts are in", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    // After every kernel batch: 128.0.0.0/1 holds the API server and 169.254.169.254, so
    // it must never be in the kernel without their host routes via the original gateway.
    const unpinned: string[][] = [];
    const apply = kernel.apply.bind(kernel);
    kernel.apply = async (ops) => {
      const results = await apply(ops);
      const dsts: string[] = mainTable(kernel).map((r) => r.dst);
      if (dsts.includes("128.0.0.0/1") && !dsts.includes("203.0.113.100/32")) unpinned.push(dsts);
      return results;
    };
    // The API server's EndpointSlices not listed yet (slower than the Routes, or failing
    // and retried): the host facts wait for them.
    const cluster = new HandCluster("node-a", {}, undefined);
    const agent = await start(kernel, cluster);
    cluster.resync([
      routeObject("vpn", { destinations: ["0.0.0.0/1", "128.0.0.0/1"], gateways: ["10.0.0.3"] }),
    ]);
    await eventually(() =>
      expect(routeOutcome(agent.state(), "vpn")?.destinations.map((d) => d.state)).toEqual([
        "pending",
        "pending",
      ]),
    );
    expect(routeOutcome(agent.state(), "vpn")?.destinations[1]?.reason).toMatch(
      /^waiting for the node's host facts/,
    );
    expect(owned(kernel)).toEqual([]);
    cluster.apiServers.next(["203.0.113.100" as IpAddr]);
    await eventually(() =>
      expect(mainTable(kernel).map((r) => r.dst)).toEqual([
        "0.0.0.0/1",
        "128.0.0.0/1",
        "169.254.169.254/32",
        "203.0.113.100/32",
      ]),
    );
    for (const dst of ["169.254.169.254/32", "203.0.113.100/32"]) {
      const pin = mainTable(kernel).find((r) => r.dst === dst);
      expect(pin === undefined ? [] : gatewaysOf(kernel, pin)).toEqual(["10.0.0.1"]);
    }
    expect(unpinned).toEqual([]);
  });

  it("is not ready before the Routes have synced, and says what it waits for", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const agent = await start(kernel, new HandCluster());
    await eventually(async () => {
      const response = await fetch(`http://127.0.0.1:${agent.endpoints.health.port}/readyz`);
      expect(response.status).toBe(503);
      expect(await response.text()).toBe("waiting for the first sync of: routes\n");
    });
  });

  it("restarts with unchanged Routes without a single kernel write", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    await programmedAndStopped(kernel, [routeObject("egress", twoGateways)]);
    expect(owned(kernel)).toHaveLength(2);
    const before = JSON.stringify(kernel.listSync({}));
    // Nor the multipath hash sysctl: rewriting even the same value notifies the kernel's listeners.
    const sysctlWrites = vi.spyOn(kernel, "setMultipathHashPolicy");

    const second = new HandCluster();
    const b = await start(kernel, second);
    second.resync([routeObject("egress", twoGateways)]);
    await b.ready;
    await new Promise((r) => setTimeout(r, 300));
    expect(b.opsWritten()).toBe(0);
    expect(JSON.stringify(kernel.listSync({}))).toBe(before);
    expect(sysctlWrites).not.toHaveBeenCalled();
  });

  it("restarts with its Routes in place while the host facts are late, and writes nothing once they come", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    await programmedAndStopped(kernel, [routeObject("egress", twoGateways)]);
    const before = JSON.stringify(kernel.listSync({}));

    // The Routes wait for the host facts, but what the kernel holds of them stays.
    const second = new HandCluster("node-a", {}, undefined);
    const b = await start(kernel, second);
    second.resync([routeObject("egress", twoGateways)]);
    await eventually(() => expect(routeOutcome(b.state(), "egress")?.destinations[0]?.state).toBe("pending"));
    await new Promise((r) => setTimeout(r, 300));
    expect(JSON.stringify(kernel.listSync({}))).toBe(before);
    second.apiServers.next(["10.0.0.100" as IpAddr]);
    await b.ready;
    await new Promise((r) => setTimeout(r, 300));
    expect(b.opsWritten()).toBe(0);
    expect(JSON.stringify(kernel.listSync({}))).toBe(before);
  });

  it("prunes a Route deleted while it was down, only after every source synced", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    await programmedAndStopped(kernel, [
      routeObject("keep", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] }),
      routeObject("gone", { destinations: ["203.0.113.0/24"], gateways: ["10.0.0.3"] }),
    ]);
    expect(owned(kernel)).toHaveLength(2);

    const second = new HandCluster();
    const b = await start(kernel, second);
    await new Promise((r) => setTimeout(r, 200));
    expect(owned(kernel)).toHaveLength(2); // Routes not synced yet: nothing may be pruned
    second.resync([routeObject("keep", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] })]);
    await b.ready;
    await eventually(() => expect(owned(kernel).map((r) => r.dst)).toEqual(["192.0.2.0/24"]));
  });

  it("dumps the kernel again shortly when the start-up dump was interrupted, and then prunes", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    await programmedAndStopped(kernel, [
      routeObject("keep", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] }),
      routeObject("gone", { destinations: ["203.0.113.0/24"], gateways: ["10.0.0.3"] }),
    ]);
    expect(owned(kernel)).toHaveLength(2);

    // The periodic resync (default 5 min) is far off: only a dump taken again prunes in time.
    kernel.interruptNextDump();
    const second = new HandCluster();
    const b = await start(kernel, second);
    second.resync([routeObject("keep", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] })]);
    await b.ready;
    await eventually(() => expect(owned(kernel).map((r) => r.dst)).toEqual(["192.0.2.0/24"]));
    expect(b.state().kernel.complete).toBe(true);
  });

  it("repairs an owned route deleted by someone else, from the change notification", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const agent = await start(kernel, cluster);
    cluster.resync([routeObject("egress", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] })]);
    await eventually(() => expect(owned(kernel)).toHaveLength(1));
    const [route] = owned(kernel);
    const seen: string[] = [];
    const watching = kernel.watch().subscribe((c) => {
      if (c.kind === "route" && c.route.dst === "192.0.2.0/24") seen.push(c.action);
    });
    const written = agent.opsWritten();
    kernel.applySync([{ object: "route", action: "delete", from: route! }]);
    // The fake kernel notifies synchronously, so the repair can reach a later subscriber first.
    await eventually(() => expect([...seen].sort()).toEqual(["del", "new"]));
    watching.unsubscribe();
    expect(owned(kernel)).toHaveLength(1);
    expect(agent.opsWritten()).toBe(written + 1);
  });

  it("follows a change made just after its start-up dump: the route deleted then is added again", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const egress = routeObject("egress", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] });
    await programmedAndStopped(kernel, [egress]);

    // The next agent's start-up dump holds the route; someone deletes it right after.
    const list = kernel.list.bind(kernel);
    let dumps = 0;
    kernel.list = async (scope) => {
      const snapshot = await list(scope);
      dumps += 1;
      if (dumps === 1) {
        const [route] = owned(kernel);
        kernel.applySync([{ object: "route", action: "delete", from: route as KernelRoute }]);
      }
      return snapshot;
    };
    const again = new HandCluster();
    const next = await start(kernel, again);
    again.resync([egress]);
    await next.ready;
    await eventually(() => expect(owned(kernel)).toHaveLength(1));
  });

  /** An agent whose status sinks' lastSync arguments are kept, each with when it came. */
  async function startWithSyncs(
    kernel: FakeKernel,
    cluster: HandCluster,
    extra: string[] = [],
  ): Promise<{ agent: AgentHandle; syncs: { at: number; lastSync: string | undefined }[] }> {
    const syncs: { at: number; lastSync: string | undefined }[] = [];
    const agent = await startAgent(testSettings(extra), {
      cluster,
      dataplane: kernel,
      probe: up,
      logger: quietLogger,
      reportEveryMs: 10,
      status: [{ update: (_table, _state, lastSync) => syncs.push({ at: Date.now(), lastSync }) }],
    });
    agents.push(agent);
    return { agent, syncs };
  }

  const lastSyncOf = (syncs: { lastSync: string | undefined }[]) => {
    const last = syncs.at(-1)?.lastSync;
    return last === undefined ? Number.NaN : Date.parse(last);
  };

  it("holds lastSync while the kernel refuses an op, and moves it once the kernel holds the table", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const { agent, syncs } = await startWithSyncs(kernel, cluster);
    const egress = routeObject("egress", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] });
    cluster.resync([egress]);
    await agent.ready;
    await eventually(() => expect(owned(kernel)).toHaveLength(1));
    await eventually(() => expect(lastSyncOf(syncs)).toBeGreaterThan(0));

    kernel.failNext(1000, "EEXIST");
    const refusedFrom = Date.now();
    cluster.routes.next({
      type: "route/upserted",
      route: routeObject("more", { destinations: ["198.51.100.0/24"], gateways: ["10.0.0.3"] }),
    });
    await new Promise((r) => setTimeout(r, 1500));
    // The engine went on (the refusal, its retry): none of its steps moved it.
    const during = syncs.filter((s) => s.at > refusedFrom + 100);
    expect(during.length).toBeGreaterThan(0);
    for (const s of during) expect(Date.parse(s.lastSync as string)).toBeLessThanOrEqual(refusedFrom);

    kernel.failNext(0, "EEXIST");
    await eventually(() => expect(owned(kernel)).toHaveLength(2));
    await eventually(() => expect(lastSyncOf(syncs)).toBeGreaterThan(refusedFrom + 1500));
  });

  it("holds lastSync while the kernel dumps fail, and moves it once one succeeds", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const { agent, syncs } = await startWithSyncs(kernel, cluster, ["--resync-interval=1s"]);
    cluster.resync([routeObject("egress", { destinations: ["192.0.2.0/24"], gateways: ["10.0.0.3"] })]);
    await agent.ready;
    await eventually(() => expect(lastSyncOf(syncs)).toBeGreaterThan(0));

    const list = kernel.list.bind(kernel);
    let failing = true;
    let failedAt: number | undefined;
    let recoveredAt = Number.POSITIVE_INFINITY;
    kernel.list = async (scope) => {
      if (!failing) return list(scope);
      failedAt ??= Date.now();
      throw new Error("EBUSY");
    };
    await eventually(() => expect(failedAt).toBeDefined());
    await new Promise((r) => setTimeout(r, 1500));
    // The engine went on (the resync timer, once a second): none of its steps moved it.
    const during = syncs.filter((s) => s.at > (failedAt as number) + 100);
    expect(during.length).toBeGreaterThan(0);
    for (const s of during) expect(Date.parse(s.lastSync as string)).toBeLessThanOrEqual(failedAt as number);

    failing = false;
    recoveredAt = Date.now();
    await eventually(() => expect(lastSyncOf(syncs)).toBeGreaterThan(recoveredAt));
  });

  it("writes nothing under --dry-run, yet reports the routes it would program", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const agent = await start(kernel, cluster, ["--dry-run"]);
    cluster.resync([routeObject("egress", twoGateways)]);
    await agent.ready;
    await eventually(() => {
      const outcome = agent.state().derived.contributions.size;
      expect(outcome).toBe(1);
      expect(agent.opsWritten()).toBeGreaterThan(0);
    });
    expect(owned(kernel)).toEqual([]);
    // Nothing counts as applied: the metric says what reached the kernel.
    const metrics = await (await fetch(`http://127.0.0.1:${agent.endpoints.metrics.port}/metrics`)).text();
    expect(metrics).not.toMatch(/^kroute_netlink_operations_total\{/m);
  });

  it("records every consumed event as an event log that decodes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-record-"));
    const file = join(dir, "events.jsonl");
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const agent = await start(kernel, cluster, [`--record=${file}`]);
    cluster.resync([routeObject("egress", twoGateways)]);
    await agent.ready;
    await eventually(() => expect(owned(kernel)).toHaveLength(2));
    await agent.stop();
    agents.splice(agents.indexOf(agent), 1);
    const decoded = decodeLog(readFileSync(file, "utf8"));
    expect(decoded.ok).toBe(true);
    const types = decoded.events.map((e) => e.type);
    expect(types[0]).toBe("agent/configured");
    expect(types[1]).toBe("kernel/observed");
    expect(types).toContain("route/resynced");
    expect(types).toContain("host/observed");
    expect(types).toContain("node/observed");
    expect(types).toContain("dataplane/applied");
    expect(decoded.events.map((e) => e.seq)).toEqual(decoded.events.map((_, i) => i + 1));
  });

  it("goes on with the recording it finds after a restart: one log whose seq keeps increasing", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "kroute-record-")), "events.jsonl");
    const kernel = createFakeKernel(NODE_HOST);
    for (const gateways of [["10.0.0.3"], ["10.0.0.4"]]) {
      const cluster = new HandCluster();
      const agent = await start(kernel, cluster, [`--record=${file}`]);
      cluster.resync([routeObject("egress", { destinations: ["192.0.2.0/24"], gateways })]);
      await agent.ready;
      await eventually(() => expect(gatewaysOf(kernel, owned(kernel)[0] as KernelRoute)).toEqual(gateways));
      await agent.stop();
      agents.splice(agents.indexOf(agent), 1);
    }
    const decoded = decodeLog(readFileSync(file, "utf8"));
    expect(decoded.ok ? "ok" : decoded.error).toBe("ok");
    const events = decoded.ok ? decoded.events : [];
    expect(events.filter((e) => e.type === "agent/configured")).toHaveLength(2);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  });

  it("a broken driver stops the engine: logged as fatal and /livez fails, with no uncaught exception", async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    try {
      const kernel = createFakeKernel(NODE_HOST);
      const broken = { ...kernel, apply: () => Promise.reject(new Error("driver broke")) };
      const cluster = new HandCluster();
      const log = capturedLog();
      const agent = await startAgent(testSettings(), {
        cluster,
        dataplane: broken,
        probe: up,
        logger: log.logger,
        reportEveryMs: 10,
      });
      agents.push(agent);
      cluster.resync([routeObject("egress", twoGateways)]);
      await eventually(() => expect(log.lines().map((l) => l.msg)).toContain("engine stopped"));
      const live = await fetch(`http://127.0.0.1:${agent.endpoints.health.port}/livez`);
      expect(live.status).toBe(503);
      await new Promise((r) => setTimeout(r, 100));
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
    }
  });

  it("fails /livez while a kernel apply goes unanswered past the deadline (the engine waits on it)", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    // Answered until the test says: whether /livez is up before the deadline passes is
    // no race with a loaded machine's clock.
    let hanging = false;
    const apply = kernel.apply.bind(kernel);
    const hung = {
      ...kernel,
      apply: (ops: Parameters<typeof apply>[0]) => (hanging ? new Promise<never>(() => {}) : apply(ops)),
    };
    const cluster = new HandCluster();
    const agent = await startAgent(testSettings(), {
      cluster,
      dataplane: hung,
      probe: up,
      logger: quietLogger,
      applyDeadlineMs: 200,
    });
    agents.push(agent);
    const livez = async () => {
      const response = await fetch(`http://127.0.0.1:${agent.endpoints.health.port}/livez`);
      return { status: response.status, body: await response.text() };
    };
    cluster.resync([routeObject("egress", twoGateways)]);
    await agent.ready;
    await eventually(() => expect(owned(kernel)).toHaveLength(2));
    expect((await livez()).status).toBe(200);
    hanging = true;
    cluster.routes.next({
      type: "route/upserted",
      route: routeObject("more", { destinations: ["203.0.113.0/24"], gateways: ["10.0.0.3"] }),
    });
    let failed = "";
    await eventually(async () => {
      const answer = await livez();
      expect(answer).toEqual({
        status: 503,
        body: expect.stringMatching(/^a kernel apply of \d+ ops unanswered for \d+ ms\n$/),
      });
      failed = answer.body;
    });
    // The first failure, past the deadline by the agent's own clock.
    expect(Number(/unanswered for (\d+) ms/.exec(failed)?.[1])).toBeGreaterThan(200);
  });

  it("refuses a --record file it cannot open as a settings error naming flag and path, before writing anything", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const before = await kernel.getMultipathHashPolicy(4);
    const starting = startAgent(testSettings(["--record=/nonexistent-dir/events.jsonl"]), {
      cluster: new HandCluster(),
      dataplane: kernel,
      probe: up,
      logger: quietLogger,
    });
    await expect(starting).rejects.toThrow(SettingsError);
    await expect(starting).rejects.toThrow(
      /^--record: "\/nonexistent-dir\/events.jsonl" cannot be recorded to: ENOENT/,
    );
    expect(await kernel.getMultipathHashPolicy(4)).toBe(before);
  });

  it("sets the kernel's multipath hash policy for both families: layer 4 by default, else as configured", async () => {
    const policies = async (kernel: FakeKernel) => [
      await kernel.getMultipathHashPolicy(4),
      await kernel.getMultipathHashPolicy(6),
    ];
    const byDefault = createFakeKernel(NODE_HOST); // at Linux's own default, 0 (layer 3)
    await start(byDefault, new HandCluster());
    expect(await policies(byDefault)).toEqual([1, 1]);
    const configured = createFakeKernel(NODE_HOST);
    await start(configured, new HandCluster(), ["--multipath-hash-policy=2"]);
    expect(await policies(configured)).toEqual([2, 2]);
  });

  it("gives the kernel's resilient groups the bucket count and idle timer it is given", async () => {
    const groups = (kernel: FakeKernel) =>
      kernel
        .listSync({ protocols: [201] })
        .nexthops.flatMap((n) => (n.kind === "group" ? [[n.groupType, n.resilient]] : []));
    for (const [flags, resilient] of [
      [[], { buckets: 128, idleTimer: 120, unbalancedTimer: 0 }],
      [
        ["--resilient-buckets=64", "--resilient-idle-timer=30s"],
        { buckets: 64, idleTimer: 30, unbalancedTimer: 0 },
      ],
    ] as const) {
      const kernel = createFakeKernel(NODE_HOST);
      const cluster = new HandCluster();
      await start(kernel, cluster, [...flags]);
      cluster.resync([routeObject("egress", twoGateways)]);
      await eventually(() => expect(groups(kernel)).toEqual([["resilient", resilient]]));
    }
  });

  it("picks multipath routes on a kernel without nexthop objects", async () => {
    const kernel = createFakeKernel({
      ...NODE_HOST,
      features: { nexthopObjects: false, resilientGroups: false },
    });
    const cluster = new HandCluster();
    const agent = await start(kernel, cluster);
    cluster.resync([routeObject("egress", twoGateways)]);
    await eventually(() => expect(owned(kernel)).toHaveLength(2));
    expect(agent.state().settings.nexthopMode).toBe("multipath");
    for (const r of owned(kernel)) expect(r.target.kind).toBe("gateways");
  });
});

describe("kroute-agent cleanup", () => {
  it("removes every route, nexthop and rule kroute owns, and nothing else", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const agent = await start(kernel, cluster);
    cluster.resync([
      routeObject("egress", {
        destinations: ["0.0.0.0/0", "192.0.2.0/24"],
        gateways: ["10.0.0.3", "10.0.0.4"],
      }),
    ]);
    await agent.ready;
    await eventually(() => expect(agent.state().derived.mismatch.size).toBe(0));
    const before = kernel.listSync({});
    expect(before.routes.filter((r) => r.protocol === 201).length).toBeGreaterThan(2);
    expect(before.nexthops.length).toBeGreaterThan(0);
    expect(before.rules.filter((r) => r.protocol === 201).length).toBeGreaterThan(0);
    await agent.stop();
    agents.splice(agents.indexOf(agent), 1);

    const settings = parseCleanupSettings([], {});
    const dry = await cleanup(kernel, { ...settings, dryRun: true });
    expect(dry.ops.length).toBeGreaterThan(0);
    expect(JSON.stringify(kernel.listSync({}))).toBe(JSON.stringify(before));

    const report = await cleanup(kernel, settings);
    expect(report.results.every((r) => r.ok)).toBe(true);
    const after = kernel.listSync({});
    expect(after.routes.filter((r) => r.protocol === 201)).toEqual([]);
    expect(after.rules.filter((r) => r.protocol === 201)).toEqual([]);
    expect(after.nexthops).toEqual([]);
    const foreign = (s: typeof before) =>
      JSON.stringify([s.routes.filter((r) => r.protocol !== 201), s.rules.filter((r) => r.protocol !== 201)]);
    expect(foreign(after)).toBe(foreign(before));
    expect((await cleanup(kernel, settings)).ops).toEqual([]);
  });

  it("logs once why gateway probes cannot be sent (a prober without socket permission)", async () => {
    const kernel = createFakeKernel(NODE_HOST);
    const cluster = new HandCluster();
    const lines: { msg: string; gateway?: string; level: number }[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const agent = await startAgent(testSettings(), {
      cluster,
      dataplane: kernel,
      probe: () => Promise.reject(new Error("socket: EPERM")),
      logger,
    });
    agents.push(agent);
    cluster.resync([routeObject("egress", twoGateways)]);
    await agent.ready;
    // Probes run every 50 ms: wait out several rounds for both gateways.
    await new Promise((r) => setTimeout(r, 400));
    const probeErrors = lines.filter((l) => l.msg.includes("gateway probe could not be sent"));
    expect(probeErrors).toHaveLength(1);
    expect(probeErrors[0]?.msg).toContain("socket: EPERM");
  });
});
