/**
 * `pnpm bench netlink-install`: installs 100,000 single-gateway /32 routes in a fresh
 * network namespace with kroute's netlink driver, with `ip -batch` and with pyroute2
 * (Debian's python3-pyroute2 under /usr/bin/python3), 3 runs each, medians of wall
 * clock. Then 100,000 routes sharing one nexthop group: one group replace (a gateway
 * set change) against replacing every route's gateway. Meanwhile a 1 ms interval
 * timer measures the longest event-loop stall during the kroute installs.
 *
 * A third reference, the kernel's floor: the same requests, encoded beforehand with
 * the driver's codec and sent with blocking sends back to back (64 KiB each, no ACK
 * waited for), so the time is nearly all the kernel's own work. No client can install
 * faster, which bounds any speedup over ip -batch (`speedup_bound_vs_ip_batch`).
 *
 * Both ways of naming the gateway are measured, each like for like: inline (`via
 * 10.0.0.2 dev kr0`, what the figures are about) and through one nexthop
 * object (`nhid 1`, how the agent programs routes on kernels with nexthop objects).
 * The kernel does less per route for the second (no gateway to resolve), so both the
 * floor and every tool's time drop; the `*_nexthop_object` figures are those runs.
 *
 * The speedup over ip -batch depends on the machine's cost of a syscall: ip -batch
 * makes three per route (a send, and a peek and a read of its ACK), kroute one send
 * per 1,024 routes. `kroute_system_s` and `ip_batch_system_s` (kernel CPU time of
 * each install, medians) show that split on the machine at hand.
 *
 * Ends with one JSON line. Needs root.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { IpAddr, KernelNexthop, KernelRoute, Op, Prefix } from "../../packages/core/src/index.ts";
import { Writer } from "../../packages/driver-netlink/src/codec/bytes.ts";
import { NLM_F_REQUEST } from "../../packages/driver-netlink/src/codec/constants.ts";
import { encodeRequest } from "../../packages/driver-netlink/src/codec/message.ts";
import * as ffi from "../../packages/driver-netlink/src/ffi.ts";
import { createNetlinkDataplane } from "../../packages/driver-netlink/src/index.ts";
import { opRequests } from "../../packages/driver-netlink/src/ops.ts";
import { createNetns, type Netns } from "../../packages/lab/src/netns.ts";

const execFileAsync = promisify(execFile);
const ROUTES = Number(process.env.KROUTE_BENCH_ROUTES ?? 100_000);
const RUNS = 3;
const PROTOCOL = 200;
const PYTHON = "/usr/bin/python3";

if (process.getuid?.() !== 0) {
  console.error("netlink-install: needs root (network namespaces)");
  process.exit(1);
}

/** 100.64.0.0 + i: distinct /32s. */
function dstOf(i: number): string {
  const v = (100 << 24) + (64 << 16) + i;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** How the installed routes name their gateway: inline, or through nexthop object 1. */
type Style = "gateway" | "nexthop-object";
const NEXTHOP_ID = 1;

/**
 * A namespace with one veth link kr0 (10.0.0.1/16) whose peer is up, so gateways
 * 10.0.0.x are on-link; for the nexthop-object style also nexthop 1 via 10.0.0.2.
 */
async function freshNamespace(style: Style = "gateway"): Promise<Netns> {
  const ns = await createNetns("kr-nlbench");
  await ns.ip("link", "add", "kr0", "type", "veth", "peer", "name", "kr0p");
  await ns.ip("link", "set", "kr0p", "up");
  await ns.ip("link", "set", "kr0", "up");
  await ns.ip("address", "add", "10.0.0.1/16", "dev", "kr0");
  if (style === "nexthop-object")
    await ns.ip(
      "nexthop",
      "add",
      "id",
      String(NEXTHOP_ID),
      "via",
      "10.0.0.2",
      "dev",
      "kr0",
      "proto",
      String(PROTOCOL),
    );
  return ns;
}

function gatewayRoute(i: number, gateway: string, table = 254): KernelRoute {
  return {
    family: 4,
    table,
    dst: `${dstOf(i)}/32` as Prefix,
    metric: 0,
    protocol: PROTOCOL,
    scope: 0,
    target: { kind: "gateways", nexthops: [{ gateway: gateway as IpAddr, dev: "kr0", weight: 1 }] },
  };
}

/** Route i of an install run, in the given style. */
function installedRoute(i: number, style: Style): KernelRoute {
  const route = gatewayRoute(i, "10.0.0.2");
  return style === "gateway" ? route : { ...route, target: { kind: "nexthop-object", id: NEXTHOP_ID } };
}

async function countRoutes(ns: Netns, table = "main"): Promise<number> {
  const { stdout } = await ns.exec("sh", ["-c", `ip route show table ${table} proto ${PROTOCOL} | wc -l`]);
  return Number(stdout.trim());
}

function failIfNot(expected: number, got: number, what: string): void {
  if (got !== expected) throw new Error(`${what}: expected ${expected} routes installed, found ${got}`);
}

async function kroute(style: Style): Promise<{ seconds: number; maxGapMs: number; kernelSeconds: number }> {
  const ns = await freshNamespace(style);
  try {
    const dp = await createNetlinkDataplane({ netns: ns.name });
    const ops: Op[] = [];
    for (let i = 0; i < ROUTES; i++)
      ops.push({ object: "route", action: "add", to: installedRoute(i, style) });
    let last = performance.now();
    let maxGapMs = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
    }, 1);
    const cpuBefore = process.cpuUsage();
    const start = performance.now();
    const results = await dp.apply(ops);
    const seconds = (performance.now() - start) / 1000;
    // System time of this process: mostly the kernel inserting routes inside sendmsg.
    const kernelSeconds = process.cpuUsage(cpuBefore).system / 1e6;
    clearInterval(timer);
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0)
      throw new Error(`kroute: ${failed.length} ops failed, first: ${JSON.stringify(failed[0])}`);
    await dp.close();
    failIfNot(ROUTES, await countRoutes(ns), "kroute");
    return { seconds, maxGapMs, kernelSeconds };
  } finally {
    await ns.destroy();
  }
}

/** The kernel alone: pre-encoded requests, blocking sends back to back; wall clock of the sends. */
async function kernelFloor(style: Style): Promise<number> {
  const ns = await freshNamespace(style);
  const fd = ffi.inNetns(ns.name, () =>
    ffi.check("socket", ffi.socket(ffi.AF_NETLINK, ffi.SOCK_RAW, ffi.NETLINK_ROUTE)),
  );
  try {
    const [link] = await ns.ipJson<{ ifindex: number }[]>("link", "show", "kr0");
    const names = { indexOf: () => link?.ifindex, nameOf: () => "kr0" };
    const chunks: Uint8Array[] = [];
    let w = new Writer(80 * 1024);
    for (let i = 0; i < ROUTES; i++) {
      const [request] = opRequests({ object: "route", action: "add", to: installedRoute(i, style) }, names);
      if (request === undefined) throw new Error("no request for a route add");
      if (w.offset >= 64 * 1024) {
        chunks.push(w.finish());
        w = new Writer(80 * 1024);
      }
      encodeRequest(w, request.type, request.flags | NLM_F_REQUEST, i + 1, request.body);
    }
    chunks.push(w.finish());
    const start = performance.now();
    for (const chunk of chunks) ffi.check("send", ffi.send(fd, chunk));
    const seconds = (performance.now() - start) / 1000;
    failIfNot(ROUTES, await countRoutes(ns), "kernel floor");
    return seconds;
  } finally {
    ffi.close(fd);
    await ns.destroy();
  }
}

/**
 * System CPU seconds of this process's waited-for children (cstime in /proc/self/stat,
 * in USER_HZ ticks, 100 a second on Linux): how `ip -batch`'s time splits.
 */
function childrenSystemSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields after the command name (which may hold spaces) start at field 3, state.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[17 - 3]) / 100;
}

async function ipBatch(dir: string, style: Style): Promise<{ seconds: number; systemSeconds: number }> {
  const ns = await freshNamespace(style);
  try {
    const file = join(dir, "routes.batch");
    const via = style === "gateway" ? "via 10.0.0.2 dev kr0" : `nhid ${NEXTHOP_ID}`;
    const lines: string[] = [];
    for (let i = 0; i < ROUTES; i++) lines.push(`route add ${dstOf(i)}/32 ${via} proto ${PROTOCOL}`);
    writeFileSync(file, `${lines.join("\n")}\n`);
    const systemBefore = childrenSystemSeconds();
    const start = performance.now();
    await execFileAsync("ip", ["-n", ns.name, "-batch", file]);
    const seconds = (performance.now() - start) / 1000;
    const systemSeconds = childrenSystemSeconds() - systemBefore;
    failIfNot(ROUTES, await countRoutes(ns), "ip -batch");
    return { seconds, systemSeconds };
  } finally {
    await ns.destroy();
  }
}

const PYROUTE2_SCRIPT = `
import sys, time
from pyroute2 import IPRoute
n = int(sys.argv[1])
ipr = IPRoute()
oif = ipr.link_lookup(ifname="kr0")[0]
dsts = []
for i in range(n):
    v = (100 << 24) + (64 << 16) + i
    dsts.append("%d.%d.%d.%d/32" % (v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255))
start = time.monotonic()
for dst in dsts:
    ipr.route("add", dst=dst, gateway="10.0.0.2", oif=oif, proto=${PROTOCOL})
print(time.monotonic() - start)
ipr.close()
`;

import { median } from "./lib/stats.ts";

async function pyroute2(dir: string): Promise<number> {
  const ns = await freshNamespace();
  try {
    const script = join(dir, "pyroute2_install.py");
    writeFileSync(script, PYROUTE2_SCRIPT);
    // Runs inside the namespace with its own netlink socket, timing only the install loop.
    const { stdout } = await ns.exec(PYTHON, [script, String(ROUTES)]);
    failIfNot(ROUTES, await countRoutes(ns), "pyroute2");
    return Number(stdout.trim());
  } finally {
    await ns.destroy();
  }
}

/** 100k routes on one nexthop group: one group replace vs rewriting every route. */
async function groupChange(): Promise<{ groupMs: number; compatGroupMs: number; perRouteSeconds: number }> {
  const ns = await freshNamespace();
  try {
    const dp = await createNetlinkDataplane({ netns: ns.name });
    const nh = (id: number, gateway: string): KernelNexthop => ({
      kind: "gateway",
      id,
      family: 4,
      protocol: PROTOCOL,
      gateway: gateway as IpAddr,
      dev: "kr0",
    });
    const group = (members: number[]): KernelNexthop => ({
      kind: "group",
      id: 100,
      protocol: PROTOCOL,
      members: members.map((id) => ({ id, weight: 1 })),
      groupType: "mpath",
    });
    const setup: Op[] = [
      { object: "nexthop", action: "add", to: nh(1, "10.0.0.2") },
      { object: "nexthop", action: "add", to: nh(2, "10.0.0.3") },
      { object: "nexthop", action: "add", to: nh(3, "10.0.0.4") },
      { object: "nexthop", action: "add", to: group([1, 2]) },
    ];
    for (let i = 0; i < ROUTES; i++) {
      setup.push({
        object: "route",
        action: "add",
        to: { ...gatewayRoute(i, "10.0.0.2"), target: { kind: "nexthop-object", id: 100 } },
      });
      setup.push({ object: "route", action: "add", to: gatewayRoute(i, "10.0.0.2", 1000) });
    }
    const setupResults = await dp.apply(setup);
    if (setupResults.some((r) => !r.ok))
      throw new Error(`group setup failed: ${JSON.stringify(setupResults.find((r) => !r.ok))}`);

    let members = [1, 2];
    const timeGroupChanges = async (): Promise<number> => {
      const times: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        const next = members[1] === 2 ? [1, 3] : [1, 2];
        const start = performance.now();
        const [result] = await dp.apply([
          { object: "nexthop", action: "replace", from: group(members), to: group(next) },
        ]);
        times.push(performance.now() - start);
        if (!result?.ok) throw new Error(`group replace failed: ${JSON.stringify(result)}`);
        members = next;
      }
      return median(times);
    };
    // Linux's default (nexthop_compat_mode=1) announces every route using a group on each
    // change; kroute watches nexthop objects and needs none of that, so it runs with 0.
    const compatGroupMs = await timeGroupChanges();
    await dp.setSysctl("net.ipv4.nexthop_compat_mode", "0");
    const groupMs = await timeGroupChanges();
    const nhShown = await ns.ip("nexthop", "show", "id", "100");
    if (!nhShown.includes(`group 1/${members[1]}`)) throw new Error(`group 100 not changed: ${nhShown}`);

    const perRouteTimes: number[] = [];
    let gateway = "10.0.0.2";
    for (let run = 0; run < RUNS; run++) {
      const next = gateway === "10.0.0.2" ? "10.0.0.3" : "10.0.0.2";
      const ops: Op[] = [];
      for (let i = 0; i < ROUTES; i++) {
        ops.push({
          object: "route",
          action: "replace",
          from: gatewayRoute(i, gateway, 1000),
          to: gatewayRoute(i, next, 1000),
        });
      }
      const start = performance.now();
      const results = await dp.apply(ops);
      perRouteTimes.push((performance.now() - start) / 1000);
      if (results.some((r) => !r.ok))
        throw new Error(`route rewrite failed: ${JSON.stringify(results.find((r) => !r.ok))}`);
      gateway = next;
    }
    const { stdout } = await ns.exec("sh", ["-c", `ip route show table 1000 | grep -c 'via ${gateway}'`]);
    failIfNot(ROUTES, Number(stdout.trim()), "per-route rewrite");
    await dp.close();
    return { groupMs, compatGroupMs, perRouteSeconds: median(perRouteTimes) };
  } finally {
    await ns.destroy();
  }
}

const dir = mkdtempSync(join(tmpdir(), "kroute-bench-"));
try {
  const krouteRuns: number[] = [];
  const gaps: number[] = [];
  const kernelTimes: number[] = [];
  const ipRuns: number[] = [];
  const ipSystemTimes: number[] = [];
  const pyRuns: number[] = [];
  const floorRuns: number[] = [];
  const objectRuns = { kroute: [] as number[], ip: [] as number[], floor: [] as number[] };
  for (let run = 1; run <= RUNS; run++) {
    const k = await kroute("gateway");
    krouteRuns.push(k.seconds);
    gaps.push(k.maxGapMs);
    kernelTimes.push(k.kernelSeconds);
    const ip = await ipBatch(dir, "gateway");
    ipRuns.push(ip.seconds);
    ipSystemTimes.push(ip.systemSeconds);
    pyRuns.push(await pyroute2(dir));
    floorRuns.push(await kernelFloor("gateway"));
    const object = await kroute("nexthop-object");
    objectRuns.kroute.push(object.seconds);
    gaps.push(object.maxGapMs);
    objectRuns.ip.push((await ipBatch(dir, "nexthop-object")).seconds);
    objectRuns.floor.push(await kernelFloor("nexthop-object"));
    console.log(
      `run ${run}: kroute ${k.seconds.toFixed(3)} s (${k.kernelSeconds.toFixed(3)} s of it system time; ` +
        `max event-loop gap ${k.maxGapMs.toFixed(1)} ms), ` +
        `ip -batch ${ip.seconds.toFixed(3)} s (${ip.systemSeconds.toFixed(2)} s system), pyroute2 ${pyRuns.at(-1)?.toFixed(3)} s, ` +
        `kernel floor ${floorRuns.at(-1)?.toFixed(3)} s; through a nexthop object: kroute ${object.seconds.toFixed(3)} s, ` +
        `ip -batch ${objectRuns.ip.at(-1)?.toFixed(3)} s, kernel floor ${objectRuns.floor.at(-1)?.toFixed(3)} s`,
    );
  }
  const group = await groupChange();
  const kroute_s = median(krouteRuns);
  const ip_batch_s = median(ipRuns);
  const pyroute2_s = median(pyRuns);
  const kernel_floor_s = median(floorRuns);
  console.log(
    `kroute ${Math.round(ROUTES / kroute_s)} routes/s; longest event-loop stall ${Math.max(...gaps).toFixed(1)} ms; ` +
      `group change ${group.groupMs.toFixed(2)} ms (${group.compatGroupMs.toFixed(1)} ms with nexthop_compat_mode=1) ` +
      `vs ${group.perRouteSeconds.toFixed(3)} s rewriting every route; median kernel (system) time ` +
      `${median(kernelTimes).toFixed(3)} s per kroute install, ${median(ipSystemTimes).toFixed(2)} s per ip -batch`,
  );
  const round = (x: number, digits: number): number => Number(x.toFixed(digits));
  console.log(
    JSON.stringify({
      bench: "netlink-install",
      routes: ROUTES,
      kroute_s: round(kroute_s, 4),
      ip_batch_s: round(ip_batch_s, 4),
      pyroute2_s: round(pyroute2_s, 4),
      speedup_vs_ip_batch: round(ip_batch_s / kroute_s, 2),
      speedup_vs_pyroute2: round(pyroute2_s / kroute_s, 2),
      kroute_system_s: round(median(kernelTimes), 3),
      ip_batch_system_s: round(median(ipSystemTimes), 2),
      group_change_ms: round(group.groupMs, 3),
      per_route_change_s: round(group.perRouteSeconds, 4),
      kernel_floor_s: round(kernel_floor_s, 4),
      speedup_bound_vs_ip_batch: round(ip_batch_s / kernel_floor_s, 2),
      kroute_nexthop_object_s: round(median(objectRuns.kroute), 4),
      ip_batch_nexthop_object_s: round(median(objectRuns.ip), 4),
      speedup_vs_ip_batch_nexthop_object: round(median(objectRuns.ip) / median(objectRuns.kroute), 2),
      kernel_floor_nexthop_object_s: round(median(objectRuns.floor), 4),
      speedup_bound_vs_ip_batch_nexthop_object: round(median(objectRuns.ip) / median(objectRuns.floor), 2),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
