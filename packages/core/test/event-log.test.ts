import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createLogDecoder, decodeLine, decodeLog, encodeEvent, encodeLog } from "../src/event-log.ts";
import type { EngineEvent } from "../src/events.ts";
import type { IpAddr, Prefix } from "../src/ip.ts";
import { nodeSelectorMatches } from "../src/selector.ts";
import { formatIssue, validateRoute } from "../src/validate.ts";

const at = "2026-11-25T10:00:00Z";
const probe = (seq: number, gateway: string): EngineEvent => ({
  v: 1,
  seq,
  at,
  type: "probe/result",
  node: "node-a",
  gateway: gateway as IpAddr,
  up: true,
});
const line = (fields: Record<string, unknown>): string => JSON.stringify({ v: 1, seq: 1, at, ...fields });

function errorOf(text: string): string {
  const result = decodeLog(text);
  if (result.ok) throw new Error("decoded, expected an error");
  return result.error.message;
}

describe("encodeEvent", () => {
  it("writes one line, envelope first", () => {
    const text = encodeEvent({
      type: "route/deleted",
      name: "a\nb",
      at,
      seq: 3,
      v: 1,
    } as EngineEvent);
    expect(text).toBe(`{"v":1,"seq":3,"at":"${at}","type":"route/deleted","name":"a\\nb"}`);
    expect(text).not.toContain("\n");
  });

  it("encodeLog ends every event with a newline and decodes back", () => {
    const events = [probe(1, "10.0.0.1"), probe(2, "fd00::1")];
    const text = encodeLog(events);
    expect(text.split("\n")).toHaveLength(3);
    expect(decodeLog(text)).toEqual({ ok: true, events, warnings: [] });
    expect(encodeLog([])).toBe("");
  });
});

const hostObserved = (defaultGateways: unknown[]) =>
  line({
    type: "host/observed",
    node: "n",
    defaultGateways,
    addresses: [],
    dns: [],
    apiServers: [],
    protect: [],
  });

describe("decodeLine", () => {
  it("keeps the family of an IPv4 default route via an IPv6 gateway (RFC 5549)", () => {
    const gateways = [{ via: "fe80::1", dev: "eth0", metric: 20, family: 4 }];
    expect(decodeLine(hostObserved(gateways), 1)).toMatchObject({
      kind: "event",
      event: { defaultGateways: gateways },
    });
  });

  it("keeps the expiry of a default route learned from a router advertisement", () => {
    const gateways = [{ via: "fe80::1", dev: "eth0", metric: 1024, expiresAt: "2026-01-01T00:30:00.000Z" }];
    expect(decodeLine(hostObserved(gateways), 1)).toMatchObject({
      kind: "event",
      event: { defaultGateways: gateways },
    });
  });

  it("keeps the time left of a route the kernel reported expiring", () => {
    const route = {
      family: 6,
      table: 254,
      dst: "::/0",
      metric: 1024,
      protocol: 9,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: "fe80::1", dev: "eth0", weight: 1 }] },
      expiresInMs: -5000,
    };
    expect(
      decodeLine(
        line({ type: "kernel/changed", node: "n", change: { kind: "route", action: "new", route } }),
        1,
      ),
    ).toMatchObject({ kind: "event", event: { change: { route: { expiresInMs: -5000 } } } });
  });

  it("keeps an IPv4 route's TOS: another program's route beside one without it at the same metric", () => {
    const route = {
      family: 4,
      table: 254,
      dst: "0.0.0.0/0",
      metric: 0,
      tos: 0x10,
      protocol: 99,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.1", dev: "eth0", weight: 1 }] },
    };
    expect(
      decodeLine(
        line({ type: "kernel/changed", node: "n", change: { kind: "route", action: "new", route } }),
        1,
      ),
    ).toMatchObject({ kind: "event", event: { change: { route: { tos: 0x10 } } } });
  });

  it("keeps whether a route replaced the one at its key; an appended route is not read as one", () => {
    const route = {
      family: 4,
      table: 254,
      dst: "10.9.0.0/24",
      metric: 50,
      protocol: 99,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.1", dev: "eth0", weight: 1 }] },
    };
    const read = (change: object) => decodeLine(line({ type: "kernel/changed", node: "n", change }), 1);
    const replaced = read({ kind: "route", action: "new", route, replaced: true });
    expect(replaced).toMatchObject({ kind: "event", event: { change: { replaced: true } } });
    const appended = read({ kind: "route", action: "new", route });
    expect(appended).toMatchObject({ kind: "event", event: { change: { kind: "route" } } });
    expect(
      appended.kind === "event" &&
        appended.event.type === "kernel/changed" &&
        "replaced" in appended.event.change,
    ).toBe(false);
    expect(read({ kind: "route", action: "new", route, replaced: false })).toMatchObject({
      kind: "error",
      error: { message: expect.stringContaining("change.replaced") },
    });
  });

  it("keeps whether a route was appended after the key's others, which tells an IPv4 append from a prepend", () => {
    const route = {
      family: 4,
      table: 254,
      dst: "10.9.0.0/24",
      metric: 50,
      protocol: 99,
      scope: 0,
      target: { kind: "device", dev: "eth0" },
    };
    const read = (change: object) => decodeLine(line({ type: "kernel/changed", node: "n", change }), 1);
    expect(read({ kind: "route", action: "new", route, appended: true })).toMatchObject({
      kind: "event",
      event: { change: { appended: true } },
    });
    expect(read({ kind: "route", action: "new", route, appended: 1 })).toMatchObject({
      kind: "error",
      error: { message: expect.stringContaining("change.appended") },
    });
  });

  it("reads another's blackhole nexthop as opaque, its id and owner, in a dump and in a change", () => {
    const blackhole = { kind: "opaque", id: 1795162112, protocol: 99, type: "blackhole" };
    const snapshot = {
      routes: [],
      nexthops: [blackhole],
      rules: [],
      links: [],
      addresses: [],
      complete: true,
    };
    expect(decodeLine(line({ type: "kernel/observed", node: "n", snapshot }), 1)).toMatchObject({
      kind: "event",
      event: { snapshot: { nexthops: [blackhole] } },
    });
    const change = { kind: "nexthop", action: "new", nexthop: blackhole };
    expect(decodeLine(line({ type: "kernel/changed", node: "n", change }), 1)).toMatchObject({
      kind: "event",
      event: { change },
    });
  });

  it("reads another's device-only nexthop with its device, and fdb ones, an fdb group flagged", () => {
    const device = { kind: "opaque", id: 7, protocol: 99, type: "device", dev: "eth0" };
    const fdb = { kind: "opaque", id: 8, protocol: 99, type: "fdb" };
    const group = {
      kind: "group",
      id: 9,
      protocol: 99,
      members: [{ id: 8, weight: 1 }],
      groupType: "mpath",
      fdb: true,
    };
    const snapshot = {
      routes: [],
      nexthops: [device, fdb, group],
      rules: [],
      links: [],
      addresses: [],
      complete: true,
    };
    const result = decodeLine(line({ type: "kernel/observed", node: "n", snapshot }), 1);
    expect(result).toMatchObject({ kind: "event", event: { snapshot: { nexthops: [device, fdb, group] } } });
  });

  it("canonicalises addresses and prefixes", () => {
    const result = decodeLine(
      line({
        type: "host/observed",
        node: "n",
        defaultGateways: [{ via: "FD00:0::1", dev: "eth0" }],
        addresses: [{ ip: "10.0.0.5", dev: "eth0", prefixLength: 20 }],
        dns: ["2001:DB8::53"],
        apiServers: ["10.0.0.10"],
        protect: ["169.254.169.254", "10.1.2.3/8"],
      }),
      1,
    );
    expect(result).toMatchObject({
      kind: "event",
      event: {
        defaultGateways: [{ via: "fd00::1", dev: "eth0" }],
        dns: ["2001:db8::53"],
        protect: ["169.254.169.254/32" as Prefix, "10.0.0.0/8" as Prefix],
      },
    });
  });

  it("skips blank lines", () => {
    expect(decodeLine("   ", 3)).toEqual({ kind: "blank" });
  });

  it("reports an unknown kind as a warning naming line and kind", () => {
    expect(decodeLine(line({ seq: 9, type: "gateway/renamed", x: 1 }), 9)).toEqual({
      kind: "unknown",
      seq: 9,
      warning: {
        line: 9,
        kind: "gateway/renamed",
        message: 'line 9: unknown event kind "gateway/renamed", skipped',
      },
    });
  });

  it("keeps a Route's spec as it came (validation happens later) but needs its name", () => {
    const spec = { destinations: ["nonsense"], extra: [1, { a: null }] };
    expect(decodeLine(line({ type: "route/upserted", route: { metadata: { name: "r" }, spec } }), 1)).toEqual(
      {
        kind: "event",
        event: { v: 1, seq: 1, at, type: "route/upserted", route: { metadata: { name: "r" }, spec } },
      },
    );
  });

  it.each([
    ["not json", "line 4: not JSON"],
    ["[1]", "line 4: event: a list is not an object"],
    [JSON.stringify({ seq: 1, at, type: "timer/fired" }), "line 4: event.v: required"],
    [line({ v: 2, type: "timer/fired" }), "line 4: event log version 2 is not supported (only 1)"],
    [line({ seq: -1, type: "timer/fired" }), "line 4: event.seq: -1 is not an integer 0..9007199254740991"],
    [line({ seq: "1", type: "timer/fired" }), 'line 4: event.seq: "1" is not an integer'],
    [line({ at: "yesterday", type: "timer/fired" }), 'line 4: event.at: "yesterday" is not an ISO-8601 time'],
    [line({ at: "2026-13-45T00:00:00Z", type: "timer/fired" }), "is not an ISO-8601 time"],
    [line({ type: 5 }), "line 4: event.type: 5 is not a non-empty string"],
    [
      line({ type: "probe/result", node: "n", gateway: "x", up: true }),
      'line 4: probe/result.gateway: "x" is not an IP address',
    ],
    [line({ type: "probe/result", node: "n", gateway: "10.0.0.1" }), "line 4: probe/result.up: required"],
    [
      line({ type: "probe/result", node: "n", gateway: "10.0.0.1", up: true, rttMs: -1 }),
      "line 4: probe/result.rttMs: -1 is not a number ≥ 0",
    ],
    [
      line({ type: "probe/result", node: "", gateway: "10.0.0.1", up: true }),
      'line 4: probe/result.node: "" is not a non-empty string',
    ],
    [
      line({ type: "timer/fired", node: "n", timer: "lunch" }),
      'line 4: timer/fired.timer: "lunch" is not one of "retry", "resync"',
    ],
    [
      line({ type: "node/observed", node: "n", labels: { a: 1 } }),
      "line 4: node/observed.labels.a: 1 is not a string",
    ],
    [
      line({ type: "route/upserted", route: { spec: {} } }),
      "line 4: route/upserted.route.metadata: required",
    ],
    [
      line({ type: "route/resynced", routes: [{ metadata: { name: "a" } }, { metadata: {} }] }),
      "line 4: route/resynced.routes[1].metadata.name: required",
    ],
    [
      line({
        type: "host/observed",
        node: "n",
        defaultGateways: [],
        addresses: [{ ip: "10.0.0.1", dev: "eth0", prefixLength: 33 }],
        dns: [],
        apiServers: [],
        protect: [],
      }),
      "line 4: host/observed.addresses[0].prefixLength: 33 is not an integer 0..32",
    ],
    [
      hostObserved([{ via: "fe80::1", dev: "eth0", family: 6 }]),
      "line 4: host/observed.defaultGateways[0].family: 6 is not one of 4",
    ],
    [
      hostObserved([{ via: "fe80::1", dev: "eth0", expiresAt: "in 30 minutes" }]),
      'line 4: host/observed.defaultGateways[0].expiresAt: "in 30 minutes" is not an ISO-8601 time',
    ],
    [
      line({
        type: "kernel/changed",
        node: "n",
        change: {
          kind: "route",
          action: "new",
          route: {
            family: 6,
            table: 254,
            dst: "::/0",
            metric: 1024,
            protocol: 9,
            scope: 0,
            target: { kind: "device", dev: "eth0" },
            expiresInMs: 1.5,
          },
        },
      }),
      "line 4: kernel/changed.change.route.expiresInMs: 1.5 is not an integer",
    ],
    ...[
      [
        6,
        "::/0",
        0x10,
        "line 4: kernel/changed.change.route.tos: 16 is not allowed: IPv6 routes have no TOS",
      ],
      // Absent is 0: a recorded 0 would make two records of one route differ.
      [4, "0.0.0.0/0", 0, "line 4: kernel/changed.change.route.tos: 0 is not an integer 1..255"],
    ].map(([family, dst, tos, message]) => [
      line({
        type: "kernel/changed",
        node: "n",
        change: {
          kind: "route",
          action: "new",
          route: {
            family,
            table: 254,
            dst,
            metric: 0,
            tos,
            protocol: 9,
            scope: 0,
            target: { kind: "device", dev: "eth0" },
          },
        },
      }),
      message as string,
    ]),
    [
      hostObserved([{ via: "10.0.0.1", dev: "eth0", family: 4 }]),
      "line 4: host/observed.defaultGateways[0].family: 4 is only for an IPv4 default route via an IPv6 gateway, and via is 10.0.0.1",
    ],
    [
      line({
        type: "kernel/changed",
        node: "n",
        change: {
          kind: "route",
          action: "new",
          route: {
            family: 4,
            table: 254,
            dst: "fd00::/8",
            metric: 0,
            protocol: 201,
            scope: 0,
            target: { kind: "device", dev: "eth0" },
          },
        },
      }),
      'line 4: kernel/changed.change.route.dst: "fd00::/8" is not an IPv4 value (family is 4)',
    ],
    [
      line({
        type: "dataplane/applied",
        node: "n",
        results: [{ op: { object: "rule", action: "replace", to: {} }, result: { ok: true } }],
      }),
      'line 4: dataplane/applied.results[0].op.action: "replace" is not one of "add", "delete"',
    ],
    [
      line({
        type: "kernel/changed",
        node: "n",
        change: {
          kind: "nexthop",
          action: "new",
          nexthop: { kind: "opaque", id: 7, protocol: 99, type: "hole" },
        },
      }),
      'line 4: kernel/changed.change.nexthop.type: "hole" is not one of "blackhole", "device", "fdb"',
    ],
    [
      line({
        type: "kernel/changed",
        node: "n",
        change: {
          kind: "nexthop",
          action: "new",
          nexthop: { kind: "opaque", id: 7, protocol: 99, type: "blackhole", dev: "eth0" },
        },
      }),
      'line 4: kernel/changed.change.nexthop.dev: "eth0" is not absent (a blackhole nexthop has no device)',
    ],
    [
      line({ type: "dataplane/applied", node: "n", results: [], echoed: [0] }),
      "line 4: dataplane/applied.echoed[0]: 0 is not the index of one of the event's 0 results",
    ],
  ])("refuses %s naming the line and the field", (text, message) => {
    const result = decodeLine(text, 4);
    expect(result.kind).toBe("error");
    if (result.kind === "error") {
      expect(result.error.line).toBe(4);
      expect(result.error.message).toContain(message);
    }
  });

  it("never throws, whatever the line", () => {
    for (const text of [
      "{",
      "null",
      "1",
      '"x"',
      "{}",
      '{"v":1,"seq":1,"at":"x","type":"__proto__"}',
      "\u2028",
    ]) {
      expect(() => decodeLine(text, 1)).not.toThrow();
    }
  });
});

describe("decodeLog", () => {
  it("numbers lines from 1, blank lines included, and refuses a seq that does not increase", () => {
    const text = `${encodeEvent(probe(1, "10.0.0.1"))}\n\n${encodeEvent(probe(1, "10.0.0.2"))}\n`;
    expect(errorOf(text)).toBe("line 3: seq 1 does not increase (previous was 1)");
  });

  it("stops at the first error and returns what came before it", () => {
    const result = decodeLog(
      `${encodeEvent(probe(1, "10.0.0.1"))}\n{oops\n${encodeEvent(probe(2, "10.0.0.2"))}`,
    );
    expect(result).toMatchObject({ ok: false, error: { line: 2 }, events: [probe(1, "10.0.0.1")] });
  });

  it("skips unknown kinds with a warning, still checking their seq", () => {
    const unknown = line({ seq: 2, type: "gateway/renamed" });
    const result = decodeLog(
      [encodeEvent(probe(1, "10.0.0.1")), unknown, encodeEvent(probe(3, "10.0.0.3"))].join("\n"),
    );
    expect(result).toEqual({
      ok: true,
      events: [probe(1, "10.0.0.1"), probe(3, "10.0.0.3")],
      warnings: [
        {
          line: 2,
          kind: "gateway/renamed",
          message: 'line 2: unknown event kind "gateway/renamed", skipped',
        },
      ],
    });
    expect(errorOf([encodeEvent(probe(5, "10.0.0.1")), unknown].join("\n"))).toBe(
      "line 2: seq 2 does not increase (previous was 5)",
    );
  });

  it("accepts CRLF line ends", () => {
    const result = decodeLog(
      `${encodeEvent(probe(1, "10.0.0.1"))}\r\n${encodeEvent(probe(2, "10.0.0.2"))}\r\n`,
    );
    expect(result.ok && result.events).toHaveLength(2);
  });

  it("the streaming decoder gives the same results line by line", () => {
    const decoder = createLogDecoder();
    expect(decoder.push(encodeEvent(probe(7, "10.0.0.1"))).kind).toBe("event");
    expect(decoder.push("").kind).toBe("blank");
    expect(decoder.push(encodeEvent(probe(3, "10.0.0.1")))).toEqual({
      kind: "error",
      error: { line: 3, message: "line 3: seq 3 does not increase (previous was 7)" },
    });
  });
});

describe("the bundled examples", () => {
  const dir = new URL("../../../examples/", import.meta.url);
  const read = (name: string) => {
    const result = decodeLog(readFileSync(new URL(name, dir), "utf8"));
    if (!result.ok) throw new Error(`${name}: ${result.error.message}`);
    return result;
  };
  const routes = (events: EngineEvent[]) =>
    events.flatMap((e) => (e.type === "route/upserted" ? [validateRoute(e.route)] : []));

  it.each(readdirSync(dir).filter((f) => f.endsWith(".jsonl")))("%s decodes without warnings", (name) => {
    const { events, warnings } = read(name);
    expect(warnings).toEqual([]);
    expect(events.length).toBeGreaterThan(0);
    // Hand-written files stay in canonical form: re-encoding changes nothing.
    expect(encodeLog(events)).toBe(readFileSync(new URL(name, dir), "utf8"));
  });

  it("basic.jsonl: every Route is valid and `basic` selects only the worker-pool node", () => {
    const { events } = read("basic.jsonl");
    const results = routes(events);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    const basic = results[0];
    if (!basic?.ok) throw new Error("basic refused");
    expect(basic.route.destinations.map((d) => d.prefix)).toEqual(["0.0.0.0/5"]);
    const nodes = events.flatMap((e) =>
      e.type === "node/observed" ? [{ name: e.node, labels: e.labels }] : [],
    );
    expect(nodes.filter((n) => nodeSelectorMatches(basic.route.nodeSelector, n)).map((n) => n.name)).toEqual([
      "node-a",
    ]);
  });

  it("edge-cases.jsonl: `broken` is refused whole, `mixed` keeps its good destinations", () => {
    const results = routes(read("edge-cases.jsonl").events);
    const byName = new Map(results.map((r) => [r.ok ? r.route.name : r.name, r]));
    expect(byName.get("broken")?.ok).toBe(false);
    const mixed = byName.get("mixed");
    if (!mixed?.ok) throw new Error("mixed refused");
    expect(mixed.route.destinations.map((d) => d.prefix)).toEqual([
      "172.16.0.0/12",
      "127.0.0.0/8",
      "10.244.1.0/24",
      "fd00:300::/48",
    ]);
    expect(mixed.route.issues.map(formatIssue)).toEqual([
      'spec.destinations[1]: "10.0.0.300/8" is not an IPv4 or IPv6 CIDR',
    ]);
    expect(mixed.route.gateways).toEqual(["10.114.0.5"]);
  });
});
