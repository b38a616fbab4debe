/**
 * The replay's invariant checkers must fire when the core misbehaves. A correct core
 * never trips them, so every other test only shows `violations: []`; here the core's
 * `plan` is sabotaged in one precise way per test (ops dropped, cut short, or made to
 * name a foreign object) and the matching checker has to report it.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { NodeState, Op } from "@kroute/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { decode, replay } from "./helpers.ts";

type Sabotage = (ops: Op[], state: NodeState) => Op[];
const sabotage = vi.hoisted(() => ({ current: undefined as Sabotage | undefined }));

vi.mock("@kroute/core", async (importOriginal) => {
  const core = await importOriginal<typeof import("@kroute/core")>();
  return {
    ...core,
    plan: (state: NodeState): Op[] => {
      const ops = core.plan(state);
      return sabotage.current === undefined ? ops : sabotage.current(ops, state);
    },
  };
});

afterEach(() => {
  sabotage.current = undefined;
});

const HEADER = [
  `{"v":1,"seq":1,"at":"2026-01-01T00:00:00.000Z","type":"node/observed","node":"n1","labels":{"pool":"a"}}`,
  `{"v":1,"seq":2,"at":"2026-01-01T00:00:00.000Z","type":"host/observed","node":"n1","defaultGateways":[{"via":"203.0.113.1","dev":"eth0","metric":100}],"addresses":[{"ip":"203.0.113.10","dev":"eth0","prefixLength":24},{"ip":"10.114.0.10","dev":"eth1","prefixLength":20}],"dns":["67.207.67.2"],"apiServers":["198.51.100.20"],"protect":[]}`,
];

function route(name: string, destinations: string[]): string {
  return JSON.stringify({
    apiVersion: "networking.kroute.dev/v1alpha1",
    kind: "Route",
    metadata: { name, generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: { destinations, gateways: ["10.114.0.3", "10.114.0.4"] },
  });
}

/** The same node with a metric-0 original default route: an override goes in as two halves. */
const METRIC_ZERO_HEADER = HEADER.map((line) => line.replace(`"metric":100`, `"metric":0`));

function log(routes: string[], tail: string[] = [], header = HEADER): string {
  return [
    ...header,
    `{"v":1,"seq":3,"at":"2026-01-01T00:00:01.000Z","type":"route/resynced","routes":[${routes.join(",")}]}`,
    `{"v":1,"seq":4,"at":"2026-01-01T00:00:02.000Z","type":"probe/result","node":"n1","gateway":"10.114.0.3","up":true,"rttMs":0.4}`,
    `{"v":1,"seq":5,"at":"2026-01-01T00:00:02.000Z","type":"probe/result","node":"n1","gateway":"10.114.0.4","up":true,"rttMs":0.4}`,
    ...tail,
  ].join("\n");
}

function violations(text: string): string[] {
  const { results } = replay(decode(text));
  return results.flatMap((r) => r.violations.map((v) => v.message));
}

const FAILOVER = log(
  [route("egress", ["192.0.2.0/24"])],
  [
    `{"v":1,"seq":6,"at":"2026-01-01T00:00:05.000Z","type":"probe/result","node":"n1","gateway":"10.114.0.4","up":false}`,
  ],
);

describe("replay invariants fire when the core misbehaves", () => {
  it("the unsabotaged scenarios hold every invariant", () => {
    expect(violations(FAILOVER)).toEqual([]);
    expect(violations(log([route("override", ["0.0.0.0/0"])]))).toEqual([]);
    expect(violations(log([route("override", ["0.0.0.0/0"])], [], METRIC_ZERO_HEADER))).toEqual([]);
    // A Route's own halves, or a /8, are no override, but hold the protected addresses.
    expect(violations(log([route("def1", ["0.0.0.0/1", "128.0.0.0/1"])]))).toEqual([]);
    expect(violations(log([route("wide", ["198.0.0.0/8"])]))).toEqual([]);
  });

  it("a route left via a gateway known down while another is up", () => {
    // After the failure probe, nothing is written: the kernel keeps 10.114.0.4.
    sabotage.current = (ops, state) => (state.probes["10.114.0.4"]?.up === false ? [] : ops);
    const found = violations(FAILOVER);
    expect(
      found.some((m) => /192\.0\.2\.0\/24 .*via 10\.114\.0\.4 \(down\) while 10\.114\.0\.3 is up/.test(m)),
    ).toBe(true);
  });

  it("a route left via a down gateway by the very op the probe led to is reported once", () => {
    // The group is rewritten as it was, both members, instead of without 10.114.0.4.
    sabotage.current = (ops, state) =>
      state.probes["10.114.0.4"]?.up === false
        ? ops.map((op) => (op.object === "nexthop" && op.action === "replace" ? { ...op, to: op.from } : op))
        : ops;
    expect(violations(FAILOVER).filter((m) => m.includes("(down)"))).toEqual([
      "192.0.2.0/24 table 254 goes via 10.114.0.4 (down) while 10.114.0.3 is up",
    ]);
  });

  it("an op naming an object kroute does not own", () => {
    sabotage.current = (ops) =>
      ops.map((op) =>
        op.object === "route" && op.action === "add" ? { ...op, to: { ...op.to, protocol: 4 } } : op,
      );
    const found = violations(log([route("egress", ["192.0.2.0/24"])]));
    expect(found.some((m) => m.startsWith("op names a foreign object: route add 192.0.2.0/24"))).toBe(true);
  });

  it("a second reconcile that is not empty", () => {
    // Only the first op of every batch goes out, so the next plan still has work.
    sabotage.current = (ops) => ops.slice(0, 1);
    const found = violations(log([route("egress", ["192.0.2.0/24", "192.0.3.0/24"])]));
    expect(found.some((m) => m.startsWith("second reconcile is not empty"))).toBe(true);
  });

  for (const [form, header] of [
    ["one default route", HEADER],
    ["split in halves", METRIC_ZERO_HEADER],
  ] as const)
    it(`a protected address captured by a default-route override (${form})`, () => {
      // The host route that keeps the API server on the original gateway is never written.
      sabotage.current = (ops) =>
        ops.filter(
          (op) => !(op.object === "route" && op.action === "add" && op.to.dst === "198.51.100.20/32"),
        );
      const found = violations(log([route("override", ["0.0.0.0/0"])], [], header));
      expect(
        found.some((m) =>
          /^protected 198\.51\.100\.20 is routed via 10\.114\.0\.[34], not via the original gateway 203\.0\.113\.1/.test(
            m,
          ),
        ),
      ).toBe(true);
    });

  for (const destinations of [["0.0.0.0/1", "128.0.0.0/1"], ["198.0.0.0/8"]])
    it(`a protected address captured by a Route's own ${destinations.join(" and ")}`, () => {
      // The host route that keeps the API server on the original gateway is never written.
      sabotage.current = (ops) =>
        ops.filter(
          (op) => !(op.object === "route" && op.action === "add" && op.to.dst === "198.51.100.20/32"),
        );
      const found = violations(log([route("vpn", destinations)]));
      expect(found).toContainEqual(
        expect.stringMatching(
          /^protected 198\.51\.100\.20 is routed via 10\.114\.0\.[34] \(route 1\d+\.0\.0\.0\/[18]\), not via the original gateway 203\.0\.113\.1$/,
        ),
      );
    });

  for (const [what, destinations, expected] of [
    [
      "a default-route override",
      ["0.0.0.0/0"],
      /^replies from 203\.0\.113\.10 are routed via 10\.114\.0\.[34], not via the original gateway 203\.0\.113\.1$/,
    ],
    [
      "a Route's own 0.0.0.0/1 and 128.0.0.0/1",
      ["0.0.0.0/1", "128.0.0.0/1"],
      /^replies from 203\.0\.113\.10 to 64\.0\.0\.1 are routed via 10\.114\.0\.[34] \(route 0\.0\.0\.0\/1\), not via the original gateway 203\.0\.113\.1$/,
    ],
  ] as const)
    it(`the node's replies taken by ${what}`, () => {
      // The rule sending the node's replies to the reply table is never written.
      sabotage.current = (ops) =>
        ops.filter((op) => !(op.object === "rule" && op.action === "add" && op.to.priority === 1350));
      const found = violations(log([route("vpn", [...destinations])]));
      expect(found).toContainEqual(expect.stringMatching(expected));
    });

  it("the node's replies to a Route's own 192.0.2.0/24 are no violation under an override, and replies taken are still found", () => {
    // 192.0.2.1 was the one reply probe: the Route's /24 takes replies to it by design.
    const text = log([route("vpn", ["0.0.0.0/0"]), route("docs", ["192.0.2.0/24", "2001:db8::/32"])]);
    expect(violations(text)).toEqual([]);
    sabotage.current = (ops) =>
      ops.filter((op) => !(op.object === "rule" && op.action === "add" && op.to.priority === 1350));
    expect(violations(text)).toContainEqual(
      expect.stringMatching(
        /^replies from 203\.0\.113\.10 are routed via 10\.114\.0\.[34], not via the original gateway 203\.0\.113\.1$/,
      ),
    );
  });

  it("the node's replies taken during the apply, by a Route's own half added before its reply route", () => {
    const isAdd = (op: Op, table: number) =>
      op.object === "route" && op.action === "add" && op.to.dst === "0.0.0.0/1" && op.to.table === table;
    sabotage.current = (ops) => {
      const half = ops.find((op) => isAdd(op, 254));
      if (half === undefined) return ops;
      return ops.flatMap((op) => (op === half ? [] : isAdd(op, 135) ? [half, op] : [op]));
    };
    const found = violations(log([route("vpn", ["0.0.0.0/1", "128.0.0.0/1"])]));
    expect(found).toContainEqual(
      expect.stringMatching(
        /^replies from 203\.0\.113\.10 to 64\.0\.0\.1 are routed via 10\.114\.0\.[34] \(route 0\.0\.0\.0\/1\), not via the original gateway 203\.0\.113\.1 during the apply/,
      ),
    );
  });

  it("a protected address captured during the apply, by a Route's /8 added before the host route", () => {
    // The /8 goes in just before the API server's host route instead of after it.
    const isAdd = (op: Op, dst: string) => op.object === "route" && op.action === "add" && op.to.dst === dst;
    sabotage.current = (ops) => {
      const wide = ops.find((op) => isAdd(op, "198.0.0.0/8"));
      if (wide === undefined) return ops;
      return ops.flatMap((op) => (op === wide ? [] : isAdd(op, "198.51.100.20/32") ? [wide, op] : [op]));
    };
    const found = violations(log([route("wide", ["198.0.0.0/8"])]));
    expect(found).toContainEqual(
      expect.stringMatching(
        /^protected 198\.51\.100\.20 is routed via 10\.114\.0\.[34] \(route 198\.0\.0\.0\/8\), not via the original gateway 203\.0\.113\.1 during the apply/,
      ),
    );
  });

  it("a protected route deleted behind kroute's back, never put back", () => {
    // Announced as Linux does, naming the route the node holds (through kroute's nexthop object).
    const held = replay(decode(log([route("override", ["0.0.0.0/0"])]))).results[0]?.snapshot?.routes.find(
      (r) => r.dst === "198.51.100.20/32",
    );
    if (held === undefined) throw new Error("the override put no protected route");
    const deleted = JSON.stringify({
      v: 1,
      seq: 6,
      at: "2026-01-01T00:00:05.000Z",
      type: "kernel/changed",
      node: "n1",
      change: { kind: "route", action: "del", route: held },
    });
    const text = log([route("override", ["0.0.0.0/0"])], [deleted]);
    // The core puts it back at once.
    expect(violations(text)).toEqual([]);
    // Now it writes the route once and never again.
    let written = false;
    const isProtectedAdd = (op: Op) =>
      op.object === "route" && op.action === "add" && op.to.dst === "198.51.100.20/32";
    sabotage.current = (ops) => {
      if (!written) {
        written = ops.some(isProtectedAdd);
        return ops;
      }
      return ops.filter((op) => !isProtectedAdd(op));
    };
    expect(violations(text)).toContainEqual(
      expect.stringMatching(
        /^protected 198\.51\.100\.20 is routed via 10\.114\.0\.[34], not via the original gateway 203\.0\.113\.1$/,
      ),
    );
  });

  it("the node's replies dropped by a later step's route that holds only the reply probe", () => {
    // The later step writes no default route, half or route holding a protected
    // address: only a route to 64.0.0.0/24, made (by the sabotage) unreachable, which
    // the node's replies to 64.0.0.1 under the Route's own half now meet. An override
    // check kept from the step before, as for a route that moves no protected address,
    // would miss it.
    const later = `{"v":1,"seq":6,"at":"2026-01-01T00:00:05.000Z","type":"route/upserted","route":${route("docs", ["64.0.0.0/24"])}}`;
    const text = log([route("vpn", ["0.0.0.0/1", "128.0.0.0/1"])], [later]);
    expect(violations(text)).toEqual([]);
    sabotage.current = (ops) =>
      ops.map((op) =>
        op.object === "route" && op.action === "add" && op.to.dst === "64.0.0.0/24"
          ? { ...op, to: { ...op.to, target: { kind: "special", type: "unreachable" } } }
          : op,
      );
    expect(violations(text)).toContainEqual(
      expect.stringMatching(/^replies from 203\.0\.113\.10 to 64\.0\.0\.1 are routed /),
    );
  });

  it("judges the override by the latest host facts: a new original gateway, and the lowest metric first", () => {
    const newGateway = HEADER[1]?.replace(
      `"defaultGateways":[{"via":"203.0.113.1","dev":"eth0","metric":100}]`,
      `"defaultGateways":[{"via":"203.0.113.9","dev":"eth0","metric":300},{"via":"203.0.113.254","dev":"eth0","metric":100}]`,
    );
    const moved = log(
      [route("override", ["0.0.0.0/0"])],
      [
        newGateway?.replace(
          `"seq":2,"at":"2026-01-01T00:00:00.000Z"`,
          `"seq":6,"at":"2026-01-01T00:00:05.000Z"`,
        ) ?? "",
      ],
    );
    expect(moved).toContain(`"seq":6`);
    expect(violations(moved)).toEqual([]);
    // Now the core keeps its pins on the old gateway: the check must see it.
    sabotage.current = (ops, state) =>
      state.host.facts?.defaultGateways.some((g) => g.via === "203.0.113.254") ? [] : ops;
    expect(
      violations(moved).some((m) =>
        /^protected 198\.51\.100\.20 is routed via 203\.0\.113\.1, not via the original gateway 203\.0\.113\.254/.test(
          m,
        ),
      ),
    ).toBe(true);
  });
});

describe("replay health invariant after a step that neither probes nor writes", () => {
  it("a Route given an up gateway while its route stays only via a down one", () => {
    const single = (generation: number, gateways: string[]) =>
      JSON.stringify({
        apiVersion: "networking.kroute.dev/v1alpha1",
        kind: "Route",
        metadata: { name: "egress", generation, creationTimestamp: "2026-01-01T00:00:00Z" },
        spec: { destinations: ["192.0.2.0/24"], gateways },
      });
    const text = [
      ...HEADER,
      `{"v":1,"seq":3,"at":"2026-01-01T00:00:01.000Z","type":"route/resynced","routes":[${single(1, ["10.114.0.4"])}]}`,
      `{"v":1,"seq":4,"at":"2026-01-01T00:00:02.000Z","type":"probe/result","node":"n1","gateway":"10.114.0.4","up":false}`,
      `{"v":1,"seq":5,"at":"2026-01-01T00:00:03.000Z","type":"route/upserted","route":${single(2, ["10.114.0.3", "10.114.0.4"])}}`,
    ].join("\n");
    // Fail-static via the only gateway is allowed; once the Route names an up one, it is not.
    expect(violations(text)).toEqual([]);
    sabotage.current = (ops, state) => (state.probes["10.114.0.4"]?.up === false ? [] : ops);
    expect(violations(text)).toContainEqual(
      "192.0.2.0/24 table 254 goes only via down 10.114.0.4 while 10.114.0.3 is up",
    );
  });
});

describe("replay health invariant after a Route event, for routes the event did not change", () => {
  const at = (seq: number) => `"seq":${seq},"at":"2026-01-01T00:00:${String(seq).padStart(2, "0")}.000Z"`;
  const probe = (seq: number, gateway: string, up: boolean) =>
    `{"v":1,${at(seq)},"type":"probe/result","node":"n1","gateway":"${gateway}","up":${up}}`;
  /** Another Route, of another destination and gateway: it changes the desired table, not egress's keys. */
  const unrelated = (seq: number, destination: string) =>
    `{"v":1,${at(seq)},"type":"route/upserted","route":${JSON.stringify({
      apiVersion: "networking.kroute.dev/v1alpha1",
      kind: "Route",
      metadata: { name: "unrelated", generation: seq, creationTimestamp: "2026-01-01T00:00:00Z" },
      spec: { destinations: [destination], gateways: ["10.114.0.5"] },
    })}}`;
  const messages = (text: string) => {
    const { results } = replay(decode(text));
    return results.flatMap((r) => r.violations.map((v) => `${v.seq} ${v.message}`));
  };

  it("a route that stays via a down gateway while another is up is reported again at each", () => {
    // The failover is never written: the group keeps 10.114.0.4 after its failure probe.
    sabotage.current = (ops, state) => (state.probes["10.114.0.4"]?.up === false ? [] : ops);
    const text = [FAILOVER, unrelated(7, "198.18.0.0/24"), unrelated(8, "198.18.1.0/24")].join("\n");
    const reported = messages(text).filter((m) => m.includes("(down)"));
    expect(reported).toEqual([
      "6 192.0.2.0/24 table 254 goes via 10.114.0.4 (down) while 10.114.0.3 is up",
      "7 192.0.2.0/24 table 254 goes via 10.114.0.4 (down) while 10.114.0.3 is up",
      "8 192.0.2.0/24 table 254 goes via 10.114.0.4 (down) while 10.114.0.3 is up",
    ]);
  });

  it("a gateway the route does not go via came up: reported at the next Route event", () => {
    // 10.114.0.4 fails and is left out of the group; then 10.114.0.3 fails and nothing is
    // written from then on, so the group stays {10.114.0.3} when 10.114.0.4 comes back.
    sabotage.current = (ops, state) => (state.probes["10.114.0.3"]?.up === false ? [] : ops);
    const text = [
      log([route("egress", ["192.0.2.0/24"])]),
      probe(6, "10.114.0.4", false),
      probe(7, "10.114.0.3", false),
      // Every gateway of egress is down: fail-static via 10.114.0.3 is no problem yet.
      unrelated(8, "198.18.0.0/24"),
      probe(9, "10.114.0.4", true),
      unrelated(10, "198.18.1.0/24"),
    ].join("\n");
    // The probe of 10.114.0.4 judges the routes through it, and this one no longer is.
    expect(messages(text).filter((m) => m.includes("down"))).toEqual([
      "10 192.0.2.0/24 table 254 goes only via down 10.114.0.3 while 10.114.0.4 is up",
    ]);
  });
});

describe("kroute-sim replay exit status", () => {
  it("is 1 when an invariant is violated, naming it", async () => {
    // The recording agent's kernel held a kroute route that nothing asks for and that it
    // never deleted; the replay prunes it, so the replay does not end where the agent did.
    const stale = {
      family: 4,
      table: 254,
      dst: "10.9.9.0/24",
      metric: 50,
      protocol: 201,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: "10.114.0.3", dev: "eth1", weight: 1 }] },
    };
    const snapshot = { routes: [stale], nexthops: [], rules: [], links: [], addresses: [], complete: true };
    const text = [
      ...HEADER,
      JSON.stringify({
        v: 1,
        seq: 3,
        at: "2026-01-01T00:00:00.500Z",
        type: "kernel/observed",
        node: "n1",
        snapshot,
      }),
      `{"v":1,"seq":4,"at":"2026-01-01T00:00:01.000Z","type":"route/resynced","routes":[]}`,
    ].join("\n");
    const file = join(mkdtempSync(join(tmpdir(), "kroute-sim-")), "stale.jsonl");
    writeFileSync(file, `${text}\n`);
    const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
    const outcome = await promisify(execFile)(process.execPath, [cli, "replay", file, "--json"]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );
    expect(outcome.code).toBe(1);
    const doc = JSON.parse(outcome.stdout) as { nodes: Record<string, { violations: string[] }> };
    expect(doc.nodes.n1?.violations).toContainEqual(
      expect.stringContaining("recorded agent held 10.9.9.0/24 table 254 metric 50 via 10.114.0.3"),
    );
  });
});
