/**
 * fast-check arbitraries for kroute's domain values, shared by every package's tests.
 *
 * Everything generated here is canonical (addresses and prefixes as the core's
 * parsers print them, no `undefined`-valued optional fields), so a value survives
 * the event-log codec unchanged. Small alphabets for names make collisions (same
 * Route name, same node, same gateway) frequent enough to exercise conflict paths.
 */
import {
  BUILTIN_PROTECTED,
  type EngineEvent,
  type EngineSettings,
  type EventBody,
  type Family,
  type IpAddr,
  type KernelAddress,
  type KernelChange,
  type KernelLink,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  type NodeSelector,
  type NodeSelectorRequirement,
  type NodeSelectorTerm,
  type Op,
  type OpResult,
  type Prefix,
  parseIp,
  parsePrefix,
  prefixContains,
  type ResilientParams,
  type RouteObject,
  type RouteTarget,
} from "@kroute/core";
import fc from "fast-check";

// --- addresses and prefixes ---

function canonicalIp(text: string): IpAddr {
  const parsed = parseIp(text);
  if (!parsed.ok) throw new Error(`fast-check produced a bad address: ${text}`);
  return parsed.value;
}

export const ipv4Addr = (): fc.Arbitrary<IpAddr> => fc.ipV4().map(canonicalIp);
export const ipv6Addr = (): fc.Arbitrary<IpAddr> => fc.ipV6().map(canonicalIp);
export const ipAddrOf = (family: Family): fc.Arbitrary<IpAddr> => (family === 4 ? ipv4Addr() : ipv6Addr());
export const ipAddr = (): fc.Arbitrary<IpAddr> => fc.oneof(ipv4Addr(), ipv6Addr());
export const family = (): fc.Arbitrary<Family> => fc.constantFrom<Family>(4, 6);

/** A canonical prefix (host bits cleared) of one family. */
export const prefixOf = (family: Family): fc.Arbitrary<Prefix> =>
  fc
    .tuple(ipAddrOf(family), fc.integer({ min: 0, max: family === 4 ? 32 : 128 }))
    .map(([address, length]) => {
      const parsed = parsePrefix(`${address}/${length}`);
      if (!parsed.ok) throw new Error(parsed.error);
      return parsed.value;
    });
export const prefix = (): fc.Arbitrary<Prefix> => fc.oneof(prefixOf(4), prefixOf(6));

/** An address a Route may name as gateway: not loopback, multicast, unspecified or broadcast. */
export const gatewayAddrOf = (family: Family): fc.Arbitrary<IpAddr> =>
  ipAddrOf(family).filter((address) =>
    BUILTIN_PROTECTED.every((range) => range.gatewayAllowed || !prefixContains(range.prefix, address)),
  );

// --- names, labels, time ---

export const routeName = (): fc.Arbitrary<string> =>
  fc.constantFrom("basic", "egress", "vpn", "pool-a", "r5");
export const nodeName = (): fc.Arbitrary<string> => fc.constantFrom("node-a", "node-b", "node-c");
export const devName = (): fc.Arbitrary<string> => fc.constantFrom("eth0", "eth1", "wg0", "veth-gw1");
export const labelKey = (): fc.Arbitrary<string> =>
  fc.constantFrom("doks.digitalocean.com/node-pool", "zone", "rank", "kubernetes.io/hostname");
export const labelValue = (): fc.Arbitrary<string> =>
  fc.constantFrom("worker-pool", "infra", "a", "b", "1", "5", "10");
export const labels = (): fc.Arbitrary<Record<string, string>> =>
  fc.dictionary(labelKey(), labelValue(), { maxKeys: 4 });

/** ISO-8601 instants as Kubernetes and the agent write them. */
export const isoTime = (): fc.Arbitrary<string> =>
  fc
    .integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2030, 0, 1) })
    .map((ms) => new Date(ms).toISOString());

// --- Routes ---

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] as const;

/** A well-formed requirement (as the validator accepts). */
export const labelRequirement = (): fc.Arbitrary<NodeSelectorRequirement> =>
  fc
    .tuple(
      labelKey(),
      fc.constantFrom(...OPERATORS),
      fc.uniqueArray(labelValue(), { minLength: 1, maxLength: 3 }),
      fc.nat(20),
    )
    .map(([key, operator, values, bound]): NodeSelectorRequirement => {
      if (operator === "In" || operator === "NotIn") return { key, operator, values };
      if (operator === "Exists" || operator === "DoesNotExist") return { key, operator };
      return { key, operator, values: [String(bound)] };
    });

export const fieldRequirement = (): fc.Arbitrary<NodeSelectorRequirement> =>
  fc.record({
    key: fc.constant("metadata.name"),
    operator: fc.constantFrom("In" as const, "NotIn" as const),
    values: nodeName().map((name) => [name]),
  });

export const nodeSelectorTerm = (): fc.Arbitrary<NodeSelectorTerm> =>
  fc.record(
    {
      matchExpressions: fc.array(labelRequirement(), { minLength: 1, maxLength: 3 }),
      matchFields: fc.array(fieldRequirement(), { minLength: 1, maxLength: 1 }),
    },
    { requiredKeys: [] },
  );

export const nodeSelector = (): fc.Arbitrary<NodeSelector> =>
  fc.record({ nodeSelectorTerms: fc.array(nodeSelectorTerm(), { minLength: 1, maxLength: 3 }) });

export interface RouteSpecShape {
  destinations: string[];
  gateways: string[];
  nodeSelector?: NodeSelector;
  probe?: boolean;
  table?: number;
}

/** A spec the validator accepts: canonical destinations, unique gateways, every family covered. */
export const validRouteSpec = (): fc.Arbitrary<RouteSpecShape> =>
  fc
    .record(
      {
        destinations: fc.uniqueArray(prefix(), { minLength: 1, maxLength: 6 }),
        v4: fc.uniqueArray(gatewayAddrOf(4), { minLength: 1, maxLength: 4 }),
        v6: fc.uniqueArray(gatewayAddrOf(6), { minLength: 1, maxLength: 4 }),
        nodeSelector: nodeSelector(),
        probe: fc.boolean(),
        table: fc.oneof(fc.constant(254), fc.integer({ min: 1, max: 252 })),
      },
      { requiredKeys: ["destinations", "v4", "v6"] },
    )
    .map(({ destinations, v4, v6, ...rest }) => ({
      destinations: [...destinations],
      // Only the families the destinations use, so no gateway is unused.
      gateways: [
        ...(destinations.some((d) => !d.includes(":")) ? v4 : []),
        ...(destinations.some((d) => d.includes(":")) ? v6 : []),
      ],
      ...rest,
    }));

export const routeObject = (spec: fc.Arbitrary<unknown> = validRouteSpec()): fc.Arbitrary<RouteObject> =>
  fc.record({
    metadata: fc.record(
      { name: routeName(), generation: fc.nat(50), creationTimestamp: isoTime() },
      { requiredKeys: ["name"] },
    ),
    spec,
  });

/** Without -0, which JSON cannot carry (it reads back as 0): fc.jsonValue makes some. */
function withoutNegativeZero(value: unknown): unknown {
  if (Object.is(value, -0)) return 0;
  if (Array.isArray(value)) return value.map(withoutNegativeZero);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNegativeZero(v)]));
  return value;
}

/** Route objects as received from anywhere: mostly valid, some with arbitrary JSON as spec. */
export const anyRouteObject = (): fc.Arbitrary<RouteObject> =>
  fc.oneof(
    { weight: 4, arbitrary: routeObject() },
    { weight: 1, arbitrary: routeObject(fc.jsonValue().map(withoutNegativeZero)) },
  );

// --- kernel objects ---

const u32 = () => fc.nat(0xffffffff);
const protocol = () => fc.oneof(fc.constantFrom(2, 3, 4, 201), fc.nat(255));
const table = () => fc.oneof(fc.constantFrom(254, 135, 100), u32());
const nexthopId = () => fc.integer({ min: 1, max: 0xffffffff });

export const resilientParams = (): fc.Arbitrary<ResilientParams> =>
  fc.record({ buckets: fc.integer({ min: 1, max: 0xffff }), idleTimer: u32(), unbalancedTimer: u32() });

const routeTarget = (fam: Family): fc.Arbitrary<RouteTarget> =>
  fc.oneof(
    fc.record({
      kind: fc.constant("gateways" as const),
      nexthops: fc.array(
        fc.record(
          {
            gateway: ipAddrOf(fam),
            dev: devName(),
            weight: fc.integer({ min: 1, max: 256 }),
            linkdown: fc.constant(true as const),
          },
          { requiredKeys: ["gateway", "dev", "weight"] },
        ),
        { minLength: 1, maxLength: 4 },
      ),
    }),
    fc.record({ kind: fc.constant("nexthop-object" as const), id: nexthopId() }),
    fc.record({ kind: fc.constant("device" as const), dev: devName() }),
    fc.record({
      kind: fc.constant("special" as const),
      type: fc.constantFrom("blackhole", "unreachable", "local"),
    }),
  );

export const kernelRoute = (): fc.Arbitrary<KernelRoute> =>
  family().chain((fam) =>
    fc.record(
      {
        family: fc.constant(fam),
        table: table(),
        dst: prefixOf(fam),
        metric: u32(),
        protocol: protocol(),
        scope: fc.constantFrom(0, 253, 254),
        target: routeTarget(fam),
        prefsrc: ipAddrOf(fam),
      },
      { requiredKeys: ["family", "table", "dst", "metric", "protocol", "scope", "target"] },
    ),
  );

export const kernelNexthop = (): fc.Arbitrary<KernelNexthop> =>
  fc.oneof(
    family().chain((fam) =>
      fc.record({
        kind: fc.constant("gateway" as const),
        id: nexthopId(),
        family: fc.constant(fam),
        protocol: protocol(),
        gateway: ipAddrOf(fam),
        dev: devName(),
      }),
    ),
    fc.record(
      {
        kind: fc.constant("group" as const),
        id: nexthopId(),
        protocol: protocol(),
        members: fc
          .uniqueArray(fc.record({ id: nexthopId(), weight: fc.integer({ min: 1, max: 256 }) }), {
            minLength: 1,
            maxLength: 4,
            selector: (m) => m.id,
          })
          .map((members) => [...members].sort((a, b) => a.id - b.id)),
        groupType: fc.constantFrom("mpath" as const, "resilient" as const),
        resilient: resilientParams(),
      },
      { requiredKeys: ["kind", "id", "protocol", "members", "groupType"] },
    ),
  );

export const kernelRule = (): fc.Arbitrary<KernelRule> =>
  family().chain((fam) =>
    fc.record(
      {
        family: fc.constant(fam),
        priority: u32(),
        src: prefixOf(fam),
        dst: prefixOf(fam),
        table: table(),
        protocol: protocol(),
        suppressPrefixLength: fc.integer({ min: 0, max: fam === 4 ? 32 : 128 }),
      },
      { requiredKeys: ["family", "priority", "table", "protocol"] },
    ),
  );

export const kernelLink = (): fc.Arbitrary<KernelLink> =>
  fc.record({
    index: fc.integer({ min: 1, max: 1000 }),
    name: devName(),
    up: fc.boolean(),
    carrier: fc.boolean(),
  });

export const kernelAddress = (): fc.Arbitrary<KernelAddress> =>
  ipAddr().chain((ip) =>
    fc.record({
      ip: fc.constant(ip),
      prefixLength: fc.integer({ min: 0, max: ip.includes(":") ? 128 : 32 }),
      dev: devName(),
    }),
  );

export const kernelSnapshot = (): fc.Arbitrary<KernelSnapshot> =>
  fc.record({
    routes: fc.array(kernelRoute(), { maxLength: 5 }),
    nexthops: fc.array(kernelNexthop(), { maxLength: 3 }),
    rules: fc.array(kernelRule(), { maxLength: 2 }),
    links: fc.array(kernelLink(), { maxLength: 2 }),
    addresses: fc.array(kernelAddress(), { maxLength: 2 }),
    complete: fc.boolean(),
  });

const action = () => fc.constantFrom("new" as const, "del" as const);

export const kernelChange = (): fc.Arbitrary<KernelChange> =>
  fc.oneof(
    fc.record({ kind: fc.constant("route" as const), action: action(), route: kernelRoute() }),
    fc.record({ kind: fc.constant("nexthop" as const), action: action(), nexthop: kernelNexthop() }),
    fc.record({ kind: fc.constant("rule" as const), action: action(), rule: kernelRule() }),
    fc.record({ kind: fc.constant("link" as const), action: action(), link: kernelLink() }),
    fc.record({ kind: fc.constant("address" as const), action: action(), address: kernelAddress() }),
    fc.constant({ kind: "overflow" as const }),
  );

function opsOf<K extends "route" | "nexthop", T>(object: K, value: fc.Arbitrary<T>) {
  return fc.oneof(
    fc.record({ object: fc.constant(object), action: fc.constant("add" as const), to: value }),
    fc.record({
      object: fc.constant(object),
      action: fc.constant("replace" as const),
      from: value,
      to: value,
    }),
    fc.record({ object: fc.constant(object), action: fc.constant("delete" as const), from: value }),
  );
}

export const op = (): fc.Arbitrary<Op> =>
  fc.oneof(
    opsOf("route", kernelRoute()),
    opsOf("nexthop", kernelNexthop()),
    fc.record({
      object: fc.constant("rule" as const),
      action: fc.constant("add" as const),
      to: kernelRule(),
    }),
    fc.record({
      object: fc.constant("rule" as const),
      action: fc.constant("delete" as const),
      from: kernelRule(),
    }),
  );

export const opResult = (): fc.Arbitrary<OpResult> =>
  fc.oneof(
    fc.constant({ ok: true as const }),
    fc.record({
      ok: fc.constant(false as const),
      errno: fc.constantFrom(2, 17, 19, 22, 101),
      code: fc.constantFrom("ENOENT", "EEXIST", "ENODEV", "EINVAL", "ENETUNREACH"),
      message: fc.string({ maxLength: 40 }),
    }),
  );

export const engineSettings = (): fc.Arbitrary<EngineSettings> =>
  fc.record(
    {
      protocol: fc.nat(255),
      metric: u32(),
      nexthopIdBase: fc.integer({ min: 1, max: 0x7fffffff }),
      nexthopIdCount: fc.integer({ min: 1, max: 0x01000000 }),
      nexthopMode: fc.constantFrom("groups" as const, "multipath" as const),
      resilient: resilientParams(),
      replyTable: fc.integer({ min: 1, max: 252 }),
      replyRulePriority: fc.integer({ min: 1, max: 32765 }),
      protectedPrefixes: fc.array(prefix(), { maxLength: 3 }),
      routeTables: fc.array(
        fc
          .tuple(fc.integer({ min: 1, max: 0xffffffff }), fc.integer({ min: 1, max: 0xffffffff }))
          .map(([a, b]) => ({ first: Math.min(a, b), last: Math.max(a, b) })),
        { minLength: 1, maxLength: 3 },
      ),
      maxDestinations: fc.integer({ min: 1, max: 0xffffffff }),
    },
    {
      requiredKeys: [
        "protocol",
        "metric",
        "nexthopIdBase",
        "nexthopIdCount",
        "nexthopMode",
        "replyTable",
        "replyRulePriority",
        "protectedPrefixes",
      ],
    },
  );

// --- events ---

const node = nodeName;

export const eventBody = (): fc.Arbitrary<EventBody> =>
  fc.oneof(
    fc.record({ type: fc.constant("route/upserted" as const), route: anyRouteObject() }),
    fc.record({ type: fc.constant("route/deleted" as const), name: routeName() }),
    fc.record({
      type: fc.constant("route/resynced" as const),
      routes: fc.array(anyRouteObject(), { maxLength: 3 }),
    }),
    fc.record({ type: fc.constant("node/observed" as const), node: node(), labels: labels() }),
    fc.record({
      type: fc.constant("host/observed" as const),
      node: node(),
      defaultGateways: fc.array(
        fc.record(
          { via: ipAddr(), dev: devName(), metric: u32(), expiresAt: isoTime() },
          { requiredKeys: ["via", "dev"] },
        ),
        { maxLength: 2 },
      ),
      addresses: fc.array(
        ipAddr().chain((ip) =>
          fc.record(
            {
              ip: fc.constant(ip),
              dev: devName(),
              prefixLength: fc.integer({ min: 0, max: ip.includes(":") ? 128 : 32 }),
            },
            { requiredKeys: ["ip", "dev"] },
          ),
        ),
        { maxLength: 3 },
      ),
      dns: fc.array(ipAddr(), { maxLength: 2 }),
      apiServers: fc.array(ipAddr(), { maxLength: 2 }),
      protect: fc.array(prefix(), { maxLength: 2 }),
    }),
    fc.record(
      {
        type: fc.constant("probe/result" as const),
        node: node(),
        gateway: ipAddr(),
        up: fc.boolean(),
        rttMs: fc
          .double({ min: 0, max: 5000, noNaN: true, noDefaultInfinity: true })
          .filter((x) => !Object.is(x, -0)),
      },
      { requiredKeys: ["type", "node", "gateway", "up"] },
    ),
    fc.record({ type: fc.constant("agent/configured" as const), node: node(), settings: engineSettings() }),
    fc.record({ type: fc.constant("kernel/observed" as const), node: node(), snapshot: kernelSnapshot() }),
    fc.record({ type: fc.constant("kernel/changed" as const), node: node(), change: kernelChange() }),
    fc
      .record({
        type: fc.constant("dataplane/applied" as const),
        node: node(),
        results: fc.array(fc.record({ op: op(), result: opResult() }), { maxLength: 3 }),
      })
      .chain((event) =>
        event.results.length === 0
          ? fc.constant(event)
          : fc
              .option(fc.uniqueArray(fc.nat(event.results.length - 1), { minLength: 1 }), { nil: undefined })
              .map((echoed) => (echoed === undefined ? event : { ...event, echoed })),
      ),
    fc.record({
      type: fc.constant("timer/fired" as const),
      node: node(),
      timer: fc.constantFrom("retry" as const, "resync" as const),
    }),
  );

/** Stamps bodies with the log envelope: seq from 1, time non-decreasing. */
export function sequence(
  bodies: readonly EventBody[],
  start = Date.UTC(2026, 0, 1),
  stepsMs?: readonly number[],
): EngineEvent[] {
  let at = start;
  return bodies.map((body, i) => {
    at += stepsMs?.[i] ?? 0;
    return { v: 1, seq: i + 1, at: new Date(at).toISOString(), ...body } as EngineEvent;
  });
}

export const engineEvent = (): fc.Arbitrary<EngineEvent> =>
  fc
    .tuple(eventBody(), fc.nat(1_000_000), isoTime())
    .map(([body, seq, at]) => ({ v: 1, seq, at, ...body }) as EngineEvent);

/** A well-formed log: increasing seq, non-decreasing time. */
export const eventLog = (maxLength = 20): fc.Arbitrary<EngineEvent[]> =>
  fc.array(fc.tuple(eventBody(), fc.nat(10_000)), { maxLength }).map((items) =>
    sequence(
      items.map(([body]) => body),
      Date.UTC(2026, 0, 1),
      items.map(([, step]) => step),
    ),
  );
