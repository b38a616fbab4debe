/**
 * Behaviour of the netlink driver itself, beyond the shared conformance suite:
 * batching (results matched to ops across chunks), the event loop kept free during
 * a 100,000-route batch, notification overflow, namespace isolation, sysctls.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { IpAddr, KernelChange, KernelRoute, Op, Prefix } from "@kroute/core";
import { createNetns, type Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { createNetlinkDataplane, type NetlinkDataplane } from "../src/index.ts";
import { baselineNetns } from "./netns-host.ts";

const PROTO = 240;

function hostRoute(i: number, table = 254): KernelRoute {
  const v = (100 << 24) + (64 << 16) + i;
  return {
    family: 4,
    table,
    dst: `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/32` as Prefix,
    metric: 0,
    protocol: PROTO,
    scope: 0,
    target: { kind: "gateways", nexthops: [{ gateway: "10.10.0.2" as IpAddr, dev: "kr0", weight: 1 }] },
  };
}

describeAsRoot("netlink driver", () => {
  let ns: Netns;
  let dp: NetlinkDataplane;

  beforeAll(async () => {
    ({ ns } = await baselineNetns());
    dp = await createNetlinkDataplane({ netns: ns.name });
  });
  afterAll(async () => {
    await dp?.close();
    await ns?.destroy();
  });

  it("matches each kernel refusal to its op across chunk boundaries, one result per op", async () => {
    const count = 5000;
    const ops: Op[] = [];
    const expectedFailures = new Map<number, string>();
    for (let i = 0; i < count; i++) {
      if (i % 7 === 3) {
        // A duplicate of the first route (always added): EEXIST.
        ops.push({ object: "route", action: "add", to: hostRoute(0, 101) });
        expectedFailures.set(i, "EEXIST");
      } else if (i % 11 === 5) {
        ops.push({ object: "route", action: "delete", from: hostRoute(1_000_000 + i, 101) });
        expectedFailures.set(i, "ESRCH");
      } else if (i === 4321) {
        ops.push({
          object: "route",
          action: "add",
          to: {
            ...hostRoute(i, 101),
            target: {
              kind: "gateways",
              nexthops: [{ gateway: "10.10.0.2" as IpAddr, dev: "nosuch0", weight: 1 }],
            },
          },
        });
        expectedFailures.set(i, "ENODEV");
      } else {
        ops.push({ object: "route", action: "add", to: hostRoute(i, 101) });
      }
    }
    const results = await dp.apply(ops);
    expect(results).toHaveLength(count);
    const failures = new Map<number, string>();
    results.forEach((r, i) => {
      if (!r.ok) failures.set(i, r.code);
    });
    expect(failures).toEqual(expectedFailures);
    const eexist = results[3];
    expect(eexist).toMatchObject({ ok: false, errno: 17, code: "EEXIST" });
    const esrch = results[5];
    expect(esrch).toMatchObject({ ok: false, errno: 3, code: "ESRCH" });
    if (esrch !== undefined && !esrch.ok) expect(esrch.message.length).toBeGreaterThan(0);
    const snapshot = await dp.list({ families: [4], tables: [101], protocols: [PROTO] });
    expect(snapshot.complete).toBe(true);
    expect(snapshot.routes).toHaveLength(count - expectedFailures.size);
  });

  it("finds a link created after it opened, by re-reading the links before translating", async () => {
    await ns.ip("link", "add", "late0", "type", "veth", "peer", "name", "late0p");
    await ns.ip("link", "set", "late0p", "up");
    await ns.ip("link", "set", "late0", "up");
    const route: KernelRoute = { ...hostRoute(7, 106), target: { kind: "device", dev: "late0" } };
    expect(await dp.apply([{ object: "route", action: "add", to: route }])).toEqual([{ ok: true }]);
    const shown = await ns.ip("route", "show", "table", "106");
    expect(shown).toContain("100.64.0.7 dev late0");
  });

  it("a replace that changes the key deletes the old route and adds the new", async () => {
    const from = hostRoute(1, 102);
    expect(await dp.apply([{ object: "route", action: "add", to: from }])).toEqual([{ ok: true }]);
    const to = { ...from, metric: 20 };
    expect(await dp.apply([{ object: "route", action: "replace", from, to }])).toEqual([{ ok: true }]);
    const snapshot = await dp.list({ families: [4], tables: [102], protocols: [PROTO] });
    expect(snapshot.routes).toEqual([to]);
  });

  it("never replaces a route someone else put first at kroute's key: Linux would replace theirs", async () => {
    const ours = hostRoute(2, 107);
    const moved: KernelRoute = {
      ...ours,
      target: { kind: "gateways", nexthops: [{ gateway: "10.10.0.3" as IpAddr, dev: "kr0", weight: 1 }] },
    };
    const replace: Op = { object: "route", action: "replace", from: ours, to: moved };
    const key = ["100.64.0.2/32", "table", "107", "metric", "0"];
    const theirs = [...key, "via", "10.10.0.4", "dev", "kr0", "proto", "static"];
    const gatewaysAtKey = async () =>
      (await dp.list({ families: [4], tables: [107] })).routes.map((r) => [
        r.protocol,
        r.target.kind === "gateways" ? r.target.nexthops[0]?.gateway : r.target.kind,
      ]);
    expect(await dp.apply([{ object: "route", action: "add", to: ours }])).toEqual([{ ok: true }]);

    await ns.ip("route", "prepend", ...theirs);
    const [refused] = await dp.apply([replace]);
    expect(refused).toMatchObject({
      ok: false,
      code: "EEXIST",
      message: expect.stringContaining(
        "a route of protocol 4 comes first at table 107 100.64.0.2/32 metric 0",
      ),
    });
    expect(await gatewaysAtKey()).toEqual([
      [4, "10.10.0.4"],
      [PROTO, "10.10.0.2"],
    ]);

    // Theirs behind ours: the replace takes ours, as it always did.
    await ns.ip("route", "del", ...key, "proto", "static");
    await ns.ip("route", "append", ...theirs);
    expect(await dp.apply([replace])).toEqual([{ ok: true }]);
    expect(await gatewaysAtKey()).toEqual([
      [PROTO, "10.10.0.3"],
      [4, "10.10.0.4"],
    ]);
  });

  it("keeps the event loop turning while 100,000 routes are written", async () => {
    const count = 100_000;
    const ops: Op[] = [];
    for (let i = 0; i < count; i++) ops.push({ object: "route", action: "add", to: hostRoute(i, 103) });
    let ticks = 0;
    let last = performance.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const start = performance.now();
    const results = await dp.apply(ops);
    const elapsed = performance.now() - start;
    clearInterval(timer);
    expect(results.every((r) => r.ok)).toBe(true);
    console.info(
      `100,000 routes in ${elapsed.toFixed(0)} ms; ${ticks} timer ticks, longest gap ${maxGap.toFixed(1)} ms`,
    );
    // A driver that blocked the thread would show one gap as long as the whole batch. Garbage
    // collection of the caller's 100,000 ops can pause the thread too (long on a loaded CI box),
    // so the bound is relative rather than a fixed number of milliseconds.
    expect(maxGap).toBeLessThan(elapsed / 2);
    expect(ticks).toBeGreaterThan(20);
    const snapshot = await dp.list({ families: [4], tables: [103], protocols: [PROTO] });
    expect(snapshot.complete).toBe(true);
    expect(snapshot.routes).toHaveLength(count);
    const deleted = await dp.apply(
      ops.map((op) => ({ object: "route", action: "delete", from: (op as { to: KernelRoute }).to })),
    );
    expect(deleted.every((r) => r.ok)).toBe(true);
  }, 120_000);

  it("answers lists that overlap in time, each complete, over a table too big for one datagram", async () => {
    // Linux runs one dump per socket at a time and refuses a second with EBUSY until the
    // first is read to its end; the agent lists the kernel and the host facts independently.
    const count = 5000;
    const ops: Op[] = [];
    for (let i = 0; i < count; i++) ops.push({ object: "route", action: "add", to: hostRoute(i, 108) });
    expect((await dp.apply(ops)).every((r) => r.ok)).toBe(true);
    try {
      const scope = { families: [4], tables: [108], protocols: [PROTO] } as const;
      const lists = await Promise.all([dp.list(scope), dp.list(scope), dp.list(scope)]);
      for (const snapshot of lists) {
        expect(snapshot.complete).toBe(true);
        expect(snapshot.routes).toHaveLength(count);
        expect(snapshot.links.map((l) => l.name)).toContain("kr0");
      }
    } finally {
      await dp.apply(
        ops.map((op) => ({ object: "route", action: "delete", from: (op as { to: KernelRoute }).to })),
      );
    }
  });

  it("writes and reads back an IPv4 route through an IPv6 gateway (RTA_VIA)", async () => {
    const route: KernelRoute = {
      ...hostRoute(9, 254),
      target: { kind: "gateways", nexthops: [{ gateway: "fd10::2" as IpAddr, dev: "kr0", weight: 1 }] },
    };
    const multipath: KernelRoute = {
      ...hostRoute(10, 254),
      target: {
        kind: "gateways",
        nexthops: [
          { gateway: "fd10::2" as IpAddr, dev: "kr0", weight: 1 },
          { gateway: "10.11.0.2" as IpAddr, dev: "kr1", weight: 2 },
        ],
      },
    };
    expect(
      await dp.apply([
        { object: "route", action: "add", to: route },
        { object: "route", action: "add", to: multipath },
      ]),
    ).toEqual([{ ok: true }, { ok: true }]);
    expect(await ns.ip("route", "show", "table", "main")).toMatch(/100\.64\.0\.9 via inet6 fd10::2 dev kr0/);
    const snapshot = await dp.list({ families: [4], tables: [254], protocols: [PROTO] });
    expect(snapshot.routes).toEqual([route, multipath]);
    expect(await dp.lookup({ dst: "100.64.0.9" as IpAddr })).toMatchObject({
      ok: true,
      gateway: "fd10::2",
      dev: "kr0",
    });
  });

  it("reads a route's expiry, and keeps listing it, expired, until the kernel collects it", async () => {
    // As a default route learned from a router advertisement: Linux stops using it at
    // its expiry but lists it (and says nothing) until its garbage collector runs.
    await ns.ip(..."-6 route add default via fe80::1 dev kr0 proto ra expires 2".split(" "));
    try {
      const read = async () =>
        (await dp.list({ families: [6], tables: [254] })).routes.find((r) => r.dst === "::/0");
      const fresh = await read();
      expect(fresh).toMatchObject({ protocol: 9, metric: 1024 });
      expect(fresh?.expiresInMs).toBeGreaterThan(1000);
      expect(fresh?.expiresInMs).toBeLessThanOrEqual(2000);
      await new Promise((resolve) => setTimeout(resolve, 2600));
      const expired = await read();
      expect(expired?.expiresInMs).toBeLessThan(0);
      expect(expired?.expiresInMs).toBeGreaterThan(-2000);
      const own = await dp.list({ families: [6], tables: [254], protocols: [PROTO] });
      expect(own.routes.filter((r) => r.expiresInMs !== undefined)).toEqual([]);
    } finally {
      await ns.ip(..."-6 route del default via fe80::1 dev kr0".split(" "));
    }
  });

  it("binds to the namespace it runs in when given none, as the DaemonSet runs it", async () => {
    const proto = PROTO + 1;
    const hostPolicy = readFileSync("/proc/sys/net/ipv4/fib_multipath_hash_policy", "utf8");
    const fixture = fileURLToPath(new URL("./fixtures/current-netns.ts", import.meta.url));
    const { stdout } = await ns.exec(process.execPath, [fixture, String(proto)]);
    expect(JSON.parse(stdout)).toEqual({ result: { ok: true }, routes: ["100.100.0.0/24"], hashPolicy: 1 });
    expect(await ns.ip("route", "show", "proto", String(proto))).toMatch(
      /^100\.100\.0\.0\/24 via 10\.10\.0\.2 dev kr0/,
    );
    expect(await ns.exec("cat", ["/proc/sys/net/ipv4/fib_multipath_hash_policy"])).toMatchObject({
      stdout: "1\n",
    });
    // The test's own namespace is untouched.
    expect(execFileSync("ip", ["route", "show", "proto", String(proto)], { encoding: "utf8" })).toBe("");
    expect(readFileSync("/proc/sys/net/ipv4/fib_multipath_hash_policy", "utf8")).toBe(hostPolicy);
  });

  it("reports features by probing this kernel, creating nothing", async () => {
    const before = await ns.ip("nexthop", "show");
    const fresh = await createNetlinkDataplane({ netns: ns.name });
    try {
      expect(await fresh.features()).toEqual({ nexthopObjects: true, resilientGroups: true });
    } finally {
      await fresh.close();
    }
    expect(await ns.ip("nexthop", "show")).toBe(before);
  });

  it("reports lost notifications as one overflow, and keeps delivering afterwards", async () => {
    const small = await createNetlinkDataplane({ netns: ns.name, notificationBufferBytes: 4096 });
    try {
      const changes: KernelChange[] = [];
      const subscription = small.watch().subscribe((c) => changes.push(c));
      // Written by another process while this thread is blocked: the socket cannot drain.
      const lines = Array.from(
        { length: 2000 },
        (_, i) => `route add ${hostRoute(i, 104).dst} via 10.10.0.2 dev kr0 table 104 proto ${PROTO}`,
      );
      execFileSync("ip", ["-n", ns.name, "-batch", "-"], { input: `${lines.join("\n")}\n` });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(changes.filter((c) => c.kind === "overflow").length).toBeGreaterThanOrEqual(1);
      expect(changes.filter((c) => c.kind === "route").length).toBeLessThan(2000);
      changes.length = 0;
      expect(await small.apply([{ object: "route", action: "add", to: hostRoute(5000, 104) }])).toEqual([
        { ok: true },
      ]);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(changes).toContainEqual({ kind: "route", action: "new", route: hostRoute(5000, 104) });
      subscription.unsubscribe();
    } finally {
      await small.close();
    }
  });

  it("does not report a port leaving a bridge as a deleted link", async () => {
    // Linux announces a port's bridge membership as RTM_NEWLINK/RTM_DELLINK of family
    // AF_BRIDGE, on the same group as the links themselves: the DELLINK says the port
    // left the bridge, not that the link is gone.
    await ns.ip("link", "add", "kbr0", "type", "bridge");
    await ns.ip("link", "add", "port0", "type", "veth", "peer", "name", "port0p");
    await ns.ip("link", "set", "port0", "up");
    const changes: KernelChange[] = [];
    const subscription = dp.watch().subscribe((c) => changes.push(c));
    try {
      await ns.ip("link", "set", "port0", "master", "kbr0");
      await ns.ip("link", "set", "port0", "nomaster");
      await ns.ip("link", "add", "marker0", "type", "veth", "peer", "name", "marker0p");
      await vi.waitFor(() =>
        expect(changes.some((c) => c.kind === "link" && c.link.name === "marker0")).toBe(true),
      );
      const port = changes.filter((c) => c.kind === "link" && c.link.name === "port0");
      expect(port.length).toBeGreaterThan(0);
      expect(port.filter((c) => c.kind === "link" && c.action === "del")).toEqual([]);
    } finally {
      subscription.unsubscribe();
      await ns.ip("link", "del", "marker0");
      await ns.ip("link", "del", "port0");
      await ns.ip("link", "del", "kbr0");
    }
  });

  it("lists and announces nexthops it does not model (blackhole, device-only) as opaque: their id and owner, and a device-only one's device", async () => {
    await ns.ip("link", "set", "lo", "up");
    const changes: KernelChange[] = [];
    const subscription = dp.watch().subscribe((c) => changes.push(c));
    try {
      await ns.ip("nexthop", "add", "id", "901", "blackhole", "proto", "99");
      await ns.ip("nexthop", "add", "id", "902", "dev", "kr0", "proto", "98");
      const blackhole = { kind: "opaque", id: 901, protocol: 99, type: "blackhole" };
      const device = { kind: "opaque", id: 902, protocol: 98, type: "device", dev: "kr0" };
      await vi.waitFor(() =>
        expect(changes.filter((c) => c.kind === "nexthop")).toEqual([
          { kind: "nexthop", action: "new", nexthop: blackhole },
          { kind: "nexthop", action: "new", nexthop: device },
        ]),
      );
      const { nexthops } = await dp.list({});
      expect(nexthops.filter((n) => n.id === 901 || n.id === 902)).toEqual([blackhole, device]);
      // A dump of kroute's protocol has others' nexthops of its id range, and only those.
      const scoped = await dp.list({ protocols: [PROTO], nexthopIds: { base: 900, count: 2 } });
      expect(scoped.nexthops.filter((n) => n.protocol !== PROTO)).toEqual([blackhole]);
    } finally {
      subscription.unsubscribe();
      await ns.ip("nexthop", "del", "id", "901");
      await ns.ip("nexthop", "del", "id", "902");
    }
  });

  it("does not read a rule that matches on more than kroute models as kroute's own, even with its protocol", async () => {
    const proto = ["proto", String(PROTO), "lookup", "120"];
    await ns.ip("rule", "add", "not", "from", "10.0.0.0/8", "pref", "120", ...proto);
    await ns.ip("rule", "add", "from", "10.1.0.0/16", "ipproto", "tcp", "pref", "121", ...proto);
    await ns.ip(
      "rule",
      "add",
      "from",
      "10.2.0.0/16",
      "dport",
      "443",
      "ipproto",
      "tcp",
      "pref",
      "122",
      ...proto,
    );
    await ns.ip("rule", "add", "from", "10.3.0.0/16", "uidrange", "1000-2000", "pref", "123", ...proto);
    await ns.ip("rule", "add", "from", "10.5.0.0/16", "suppress_ifgroup", "5", "pref", "125", ...proto);
    await ns.ip("rule", "add", "from", "10.4.0.0/16", "pref", "124", ...proto);
    // suppress_prefixlength is modelled (kroute writes one before its reply rules).
    await ns.ip("rule", "add", "suppress_prefixlength", "1", "pref", "126", ...proto);
    try {
      const rules = (await dp.list({ families: [4], protocols: [PROTO] })).rules;
      expect(rules).toEqual([
        { family: 4, priority: 124, table: 120, protocol: PROTO, src: "10.4.0.0/16" },
        { family: 4, priority: 126, table: 120, protocol: PROTO, suppressPrefixLength: 1 },
      ]);
      // The kernel compares neither flags nor unset selectors, so kroute's own `from X`
      // rule is refused beside the `not from X` one: refused, not silently taken as done.
      const ours = {
        family: 4,
        priority: 120,
        table: 120,
        protocol: PROTO,
        src: "10.0.0.0/8" as Prefix,
      } as const;
      expect(await dp.apply([{ object: "rule", action: "add", to: ours }])).toMatchObject([
        { ok: false, code: "EEXIST" },
      ]);
    } finally {
      for (const pref of ["120", "121", "122", "123", "124", "125", "126"])
        await ns.ip("rule", "del", "pref", pref);
    }
  });

  it("is bound to its namespace: writes, dumps and sysctls touch no other", async () => {
    const other = await createNetns();
    try {
      await other.ip("link", "add", "kr0", "type", "veth", "peer", "name", "kr0p");
      const hostPolicy = readFileSync("/proc/sys/net/ipv4/fib_multipath_hash_policy", "utf8").trim();
      const otherDp = await createNetlinkDataplane({ netns: other.name });
      try {
        await dp.setMultipathHashPolicy(4, 1);
        await otherDp.setMultipathHashPolicy(4, 2);
        expect(await dp.getMultipathHashPolicy(4)).toBe(1);
        expect(await otherDp.getMultipathHashPolicy(4)).toBe(2);
        expect((await ns.exec("cat", ["/proc/sys/net/ipv4/fib_multipath_hash_policy"])).stdout.trim()).toBe(
          "1",
        );
        expect(readFileSync("/proc/sys/net/ipv4/fib_multipath_hash_policy", "utf8").trim()).toBe(hostPolicy);
        await expect(dp.setMultipathHashPolicy(4, 7 as 0)).rejects.toThrow(/must be 0, 1 or 2: 7/);

        expect(await dp.apply([{ object: "route", action: "add", to: hostRoute(7, 105) }])).toEqual([
          { ok: true },
        ]);
        expect(await other.ip("route", "show", "table", "all", "proto", String(PROTO))).toBe("");
        expect((await otherDp.list({ protocols: [PROTO] })).routes).toEqual([]);
        expect((await otherDp.list({})).links.map((l) => l.name).sort()).toEqual(["kr0", "kr0p", "lo"]);
      } finally {
        await otherDp.close();
      }
    } finally {
      await other.destroy();
    }
  });

  it("reads and sets net.* sysctls of its namespace only, refusing other names", async () => {
    const hostValue = readFileSync("/proc/sys/net/ipv4/nexthop_compat_mode", "utf8").trim();
    const value = hostValue === "0" ? "1" : "0";
    await dp.setSysctl("net.ipv4.nexthop_compat_mode", value);
    expect(await dp.getSysctl("net.ipv4.nexthop_compat_mode")).toBe(value);
    expect((await ns.exec("sysctl", ["-n", "net.ipv4.nexthop_compat_mode"])).stdout.trim()).toBe(value);
    expect(readFileSync("/proc/sys/net/ipv4/nexthop_compat_mode", "utf8").trim()).toBe(hostValue);
    await expect(dp.getSysctl("kernel.hostname")).rejects.toThrow(/net\.\* sysctl.*"kernel.hostname"/);
    await expect(dp.setSysctl("net.ipv4/../../kernel", "1")).rejects.toThrow(/net\.\* sysctl/);
  });

  it("refuses a namespace that does not exist, naming it", async () => {
    await expect(createNetlinkDataplane({ netns: "kr-does-not-exist" })).rejects.toThrow(
      /kr-does-not-exist.*ENOENT/,
    );
    await expect(createNetlinkDataplane({ netns: "../etc" })).rejects.toThrow(/invalid namespace name/);
  });

  it("rejects calls after close", async () => {
    const closing = await createNetlinkDataplane({ netns: ns.name });
    await closing.close();
    await expect(closing.list({})).rejects.toThrow(/closed/);
    await closing.close();
  });
});
