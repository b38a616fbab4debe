/**
 * Differential test: random operation sequences applied to the fake kernel and to
 * Linux (a fresh namespace per run, both starting from the conformance baseline)
 * must give the same result codes, the same dumps of what kroute writes, and the
 * same answers to sample lookups. Before each batch kr1 may lose or regain carrier
 * or go administratively down or up, so the fake's model of what Linux flushes,
 * keeps and flags on link changes is held to Linux too. Linux is the reference: a
 * disagreement is a bug in the fake (or in this driver's translation), and fails
 * with both sides printed.
 */
import type {
  FlowQuery,
  IpAddr,
  KernelNexthop,
  KernelRoute,
  KernelRule,
  KernelSnapshot,
  LookupResult,
  Op,
  OpResult,
  Prefix,
} from "@kroute/core";
import { createFakeKernel } from "@kroute/driver-fake";
import type { Netns } from "@kroute/lab";
import { BASELINE_TOPOLOGY, describeAsRoot, type HostControl } from "@kroute/testkit";
import fc from "fast-check";
import { expect, it } from "vitest";
import { createNetlinkDataplane } from "../src/index.ts";
import { baselineNetns } from "./netns-host.ts";

const PROTO = 250;
const [kr0, kr1] = BASELINE_TOPOLOGY.links;

const v4Prefixes = ["198.51.100.0/24", "198.51.100.0/25", "198.51.100.128/25", "203.0.113.0/24", "0.0.0.0/0"];
const v6Prefixes = ["2001:db8::/32", "2001:db8::/48", "2001:db8:1::/48", "::/0"];
const v4Gateways = [
  ...kr0.peersV4.slice(0, 2).map((g) => [g, kr0.name] as const),
  ...kr1.peersV4.slice(0, 2).map((g) => [g, kr1.name] as const),
  ["192.0.2.77", kr0.name] as const, // not on-link: Linux refuses it
];
const v6Gateways = [
  ...kr0.peersV6.slice(0, 2).map((g) => [g, kr0.name] as const),
  ...kr1.peersV6.slice(0, 1).map((g) => [g, kr1.name] as const),
];

const family = fc.constantFrom(4 as const, 6 as const);
const table = fc.constantFrom(100, 101, 254);
// 0 stays in: absent is never 0, and both families read it specially (IPv6 stores
// it as 1024; a delete at metric 0 takes the owner's lowest metric).
const metric = fc.constantFrom(0, 10, 1024);

function routeArb(fam: 4 | 6): fc.Arbitrary<KernelRoute> {
  const gateways = fam === 4 ? v4Gateways : v6Gateways;
  const hop = fc
    .tuple(fc.constantFrom(...gateways), fc.integer({ min: 1, max: 3 }))
    .map(([[gateway, dev], weight]) => ({
      gateway: gateway as IpAddr,
      dev,
      weight,
    }));
  const target = fc.oneof(
    hop.map((h) => ({ kind: "gateways" as const, nexthops: [{ ...h, weight: 1 }] })),
    fc
      .uniqueArray(hop, { minLength: 2, maxLength: 3, selector: (h) => h.gateway })
      .map((nexthops) => ({ kind: "gateways" as const, nexthops })),
    // Ids 1 to 4 are gateways, 10, 11 and 13 hash-threshold groups, 12 a resilient one.
    fc.constantFrom(1, 2, 3, 4, 10, 11, 12, 13).map((id) => ({ kind: "nexthop-object" as const, id })),
    fc.constantFrom(kr0.name, kr1.name).map((dev) => ({ kind: "device" as const, dev })),
    fc.constantFrom("blackhole", "unreachable").map((type) => ({ kind: "special" as const, type })),
  );
  return (
    fc
      .record({
        family: fc.constant(fam),
        table,
        dst: fc.constantFrom(...(fam === 4 ? v4Prefixes : v6Prefixes)).map((p) => p as Prefix),
        metric,
        protocol: fc.constant(PROTO),
        scope: fc.constant(0),
        target,
      })
      // IPv4 device routes are scope link, as `ip route add ... dev` makes them.
      .map((r) => (r.target.kind === "device" && r.family === 4 ? { ...r, scope: 253 } : r))
  );
}

const route = family.chain(routeArb);

/** Gateway nexthop objects with one of `ids`, through one of `gateways` (of `family`). */
function gatewayNexthop(
  ids: readonly number[],
  family: 4 | 6,
  gateways: readonly (readonly [string, string])[],
): fc.Arbitrary<KernelNexthop> {
  return fc.tuple(fc.constantFrom(...ids), fc.constantFrom(...gateways)).map(([id, [gateway, dev]]) => ({
    kind: "gateway" as const,
    id,
    family,
    protocol: PROTO,
    gateway: gateway as IpAddr,
    dev,
  }));
}

const nexthop: fc.Arbitrary<KernelNexthop> = fc.oneof(
  gatewayNexthop([1, 2], 4, v4Gateways),
  gatewayNexthop([3], 6, v6Gateways),
  fc
    .tuple(fc.constantFrom(10, 11), fc.subarray([1, 2], { minLength: 1 }), fc.integer({ min: 1, max: 4 }))
    .map(([id, members, weight]) => ({
      kind: "group" as const,
      id,
      protocol: PROTO,
      members: members.map((m, i) => ({ id: m, weight: i === 0 ? weight : 1 })),
      groupType: "mpath" as const,
    })),
  fc
    .tuple(fc.constantFrom(12), fc.subarray([1, 2], { minLength: 1 }), fc.constantFrom(8, 16))
    .map(([id, members, buckets]) => ({
      kind: "group" as const,
      id,
      protocol: PROTO,
      members: members.map((m) => ({ id: m, weight: 1 })),
      groupType: "resilient" as const,
      resilient: { buckets, idleTimer: 5, unbalancedTimer: 0 },
    })),
  gatewayNexthop([4], 6, v6Gateways),
  fc.constant({
    kind: "group" as const,
    id: 13,
    protocol: PROTO,
    members: [
      { id: 3, weight: 1 },
      { id: 4, weight: 2 },
    ],
    groupType: "mpath" as const,
  }),
);

const rule: fc.Arbitrary<KernelRule> = fc.record({
  family: fc.constant(4 as const),
  priority: fc.constantFrom(1000, 1001),
  src: fc.constantFrom(`${kr1.v4.ip.replace(/\.1$/, ".0")}/24`, "10.10.0.0/24").map((p) => p as Prefix),
  table: fc.constantFrom(100, 101),
  protocol: fc.constant(PROTO),
});

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: route.map((to): Op => ({ object: "route", action: "add", to })) },
  {
    weight: 2,
    arbitrary: fc.tuple(route, route).map(
      ([from, to]): Op => ({
        object: "route",
        action: "replace",
        from: { ...to, target: from.target },
        to,
      }),
    ),
  },
  { weight: 2, arbitrary: route.map((from): Op => ({ object: "route", action: "delete", from })) },
  { weight: 3, arbitrary: nexthop.map((to): Op => ({ object: "nexthop", action: "add", to })) },
  { weight: 1, arbitrary: nexthop.map((to): Op => ({ object: "nexthop", action: "replace", from: to, to })) },
  { weight: 1, arbitrary: nexthop.map((from): Op => ({ object: "nexthop", action: "delete", from })) },
  { weight: 1, arbitrary: rule.map((to): Op => ({ object: "rule", action: "add", to })) },
  { weight: 1, arbitrary: rule.map((from): Op => ({ object: "rule", action: "delete", from })) },
);

const flow: fc.Arbitrary<FlowQuery> = fc.oneof(
  fc.record(
    {
      dst: fc
        .constantFrom("198.51.100.7", "198.51.100.200", "203.0.113.9", "8.8.8.8")
        .map((a) => a as IpAddr),
      src: fc.constantFrom(kr0.v4.ip, kr1.v4.ip),
      ipProto: fc.constant(17),
      sport: fc.integer({ min: 1024, max: 65535 }),
      dport: fc.constantFrom(53, 443),
    },
    { requiredKeys: ["dst", "ipProto", "sport", "dport"] },
  ),
  fc.record(
    {
      dst: fc.constantFrom("2001:db8::5", "2001:db8:1::9", "2001:db9::1").map((a) => a as IpAddr),
      src: fc.constantFrom(kr0.v6.ip, kr1.v6.ip),
      ipProto: fc.constant(6),
      sport: fc.integer({ min: 1024, max: 65535 }),
      dport: fc.constantFrom(80, 443),
    },
    { requiredKeys: ["dst", "ipProto", "sport", "dport"] },
  ),
);

/** JSON with keys sorted, so field order never counts as a difference. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function code(result: OpResult): string {
  return result.ok ? "ok" : result.code;
}

function canonical(snapshot: KernelSnapshot): unknown {
  const routes = snapshot.routes
    .map((r) =>
      r.target.kind === "gateways"
        ? {
            ...r,
            target: {
              kind: "gateways",
              nexthops: [...r.target.nexthops].sort((a, b) => (a.gateway < b.gateway ? -1 : 1)),
            },
          }
        : r,
    )
    .map(stable)
    .sort();
  const nexthops = snapshot.nexthops.map(stable).sort();
  const rules = snapshot.rules.map(stable).sort();
  return { routes, nexthops, rules };
}

/** A lookup answer as both sides can agree on it: a multipath choice depends on each kernel's hash seed. */
function lookupView(result: LookupResult, multipath: boolean): unknown {
  if (!result.ok) return { ok: false, code: result.code };
  return multipath ? { ok: true, table: result.table, dst: result.dst } : result;
}

function isMultipath(snapshot: KernelSnapshot, result: LookupResult): boolean {
  if (!result.ok) return false;
  const matched = snapshot.routes.find((r) => r.table === result.table && r.dst === result.dst);
  if (matched === undefined) return false;
  if (matched.target.kind === "gateways") return matched.target.nexthops.length > 1;
  if (matched.target.kind === "nexthop-object") {
    const id = matched.target.id;
    return snapshot.nexthops.some((n) => n.id === id && n.kind === "group" && n.members.length > 1);
  }
  return false;
}

type LinkEvent = "none" | "carrier-off" | "carrier-on" | "down" | "up";
const linkEvent = fc.constantFrom<LinkEvent>("none", "carrier-off", "carrier-on", "down", "up");

/** kr1 as the events so far left it. */
interface Kr1State {
  carrier: boolean;
  adminUp: boolean;
}

/**
 * Carrier reaches the routing code through linkwatch, after `ip` has returned: wait
 * until Linux shows kr1's operstate as the event left it (the flush runs under the
 * same lock as the next request, so that request sees its outcome). kr1's peer is in
 * another namespace, so without carrier kr1 is DOWN, not LOWERLAYERDOWN.
 */
async function settle(ns: Netns, { carrier, adminUp }: Kr1State): Promise<void> {
  const operstate = adminUp && carrier ? "UP" : "DOWN";
  for (let i = 0; i < 300; i++) {
    const [link] = await ns.ipJson<{ operstate: string }[]>("link", "show", kr1.name);
    if (link?.operstate === operstate) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${kr1.name} never reached operstate ${operstate}`);
}

/** The same event on both sides: Linux first, settled, then the fake. */
async function applyLinkEvent(
  event: LinkEvent,
  state: Kr1State,
  linux: { ns: Netns; host: HostControl },
  fake: { setCarrier(name: string, carrier: boolean): void; setAdminUp(name: string, up: boolean): void },
): Promise<void> {
  if (event === "none") return;
  if (event === "carrier-off" || event === "carrier-on") {
    state.carrier = event === "carrier-on";
    await linux.host.setCarrier(kr1.name, state.carrier);
    await settle(linux.ns, state);
    fake.setCarrier(kr1.name, state.carrier);
  } else {
    state.adminUp = event === "up";
    await linux.host.setAdminUp(kr1.name, state.adminUp);
    await settle(linux.ns, state);
    fake.setAdminUp(kr1.name, state.adminUp);
  }
}

describeAsRoot("differential: fake kernel vs Linux", () => {
  it("random op sequences and link events give the same results, dumps and lookups", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(linkEvent, fc.array(op, { minLength: 1, maxLength: 6 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(flow, { minLength: 4, maxLength: 8 }),
        async (steps, flows) => {
          const { ns, host } = await baselineNetns();
          const linux = await createNetlinkDataplane({ netns: ns.name });
          const fake = createFakeKernel({
            links: BASELINE_TOPOLOGY.links.map((l) => ({ name: l.name })),
            addresses: BASELINE_TOPOLOGY.links.flatMap((l) => [
              { dev: l.name, ...l.v4 },
              { dev: l.name, ...l.v6 },
            ]),
          });
          try {
            const kr1State: Kr1State = { carrier: true, adminUp: true };
            for (const [event, batch] of steps) {
              await applyLinkEvent(event, kr1State, { ns, host }, fake);
              const real = (await linux.apply(batch)).map(code);
              const modelled = (await fake.apply(batch)).map(code);
              expect({ event, batch, results: modelled }).toEqual({ event, batch, results: real });
              const realDump = await linux.list({ protocols: [PROTO] });
              const fakeDump = await fake.list({ protocols: [PROTO] });
              expect(realDump.complete).toBe(true);
              expect({ event, batch, dump: canonical(fakeDump) }).toEqual({
                event,
                batch,
                dump: canonical(realDump),
              });
              // Lookups after every step, so that each link state is looked through.
              for (const query of flows) {
                const real = await linux.lookup(query);
                const modelled = await fake.lookup(query);
                const multipath = isMultipath(realDump, real);
                expect({ event, query, lookup: lookupView(modelled, multipath) }).toEqual({
                  event,
                  query,
                  lookup: lookupView(real, multipath),
                });
              }
            }
          } finally {
            await linux.close();
            await fake.close();
            await ns.destroy();
          }
        },
      ),
      {
        numRuns: Number(process.env.KROUTE_DIFFERENTIAL_RUNS ?? 25),
        // Each run builds a namespace: bound the shrinking of a failure, keeping its best counterexample.
        // An interrupted run is a failure, so a slow machine can never pass on fewer runs than asked;
        // the bound is the test's own 240 s less time to tear down, not a quarter of it, or a machine
        // loaded by the rest of the suite fails runs the test would have had time for.
        interruptAfterTimeLimit: 210_000,
        markInterruptAsFailure: true,
      },
    );
  }, 240_000);
});
