/**
 * A recorded log in which the gateways' device loses its last IPv4 address (a DHCP or
 * networkd reconfiguration) and gets it back. Linux then drops the plain multipath
 * route through it without a word, and the core takes it from its view (owned.ts); the
 * replay must drop it from the fake kernel too, or the core's add when the address
 * returns meets the route still there.
 */
import type { EngineEvent, IpAddr, KernelChange, KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { json, replay } from "./helpers.ts";
import { converged, exampleHost, NODE, recordedLog } from "./recorded-log.ts";

const address = { ip: "10.114.0.2" as IpAddr, dev: "eth1", prefixLength: 20 };
/** eth1's connected route, as the recording agent's netlink driver decodes it. */
const connected = {
  family: 4,
  table: 254,
  dst: "10.114.0.0/20",
  metric: 0,
  protocol: 2,
  scope: 253,
  target: { kind: "device", dev: "eth1" },
  prefsrc: "10.114.0.2",
} as unknown as KernelRoute;

/** The agent reads the host facts again after an address change (agent host-source.ts). */
const hostWithout: EngineEvent = {
  ...exampleHost,
  addresses: exampleHost.addresses.filter((a) => a.ip !== address.ip),
};

const addressLost: (KernelChange | EngineEvent)[] = [
  { kind: "address", action: "del", address },
  { kind: "route", action: "del", route: connected },
  hostWithout,
];
const addressBack: (KernelChange | EngineEvent)[] = [
  { kind: "address", action: "new", address },
  { kind: "route", action: "new", route: connected },
  exampleHost,
];

const bothGateways = [{ dst: "0.0.0.0/5", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] }];

describe("replay of the gateways' device losing its last IPv4 address (plain multipath routes)", () => {
  it("drops the route from the fake kernel with the address, and puts it back when the address returns", () => {
    const events = recordedLog(converged, [...addressLost, ...addressBack]);
    const lostFrom = events.length - addressBack.length - addressLost.length + 1;
    const lostAt = lostFrom + addressLost.length - 1;
    const whileLost = replay(events, { until: lostAt });
    expect(whileLost.results[0]?.snapshot?.routes).toEqual([]);

    const written: string[] = [];
    const { results } = replay(events, {
      onStep: (_node, step) => {
        if (step.seq < lostFrom) return;
        for (const { op, result } of step.results)
          written.push(`${op.object} ${op.action} ${result.ok ? "ok" : result.code}`);
      },
    });
    expect(results[0]?.violations).toEqual([]);
    expect(json(results).nodes[NODE]?.routes).toEqual(bothGateways);
    // The core knew the route had gone: it adds it again at once, refused as Linux refuses
    // it while the gateways are off-link (the host facts saying so come after), and
    // once more when the address is back.
    expect(written).toEqual(["route add ENETUNREACH", "route add ok"]);
  });

  it("judges no route the address took: a gateway probed down while it is gone is no violation", () => {
    const probe: EngineEvent = {
      v: 1,
      seq: 0,
      at: "2025-11-25T10:00:00.000Z",
      type: "probe/result",
      node: NODE,
      gateway: "10.114.0.4" as never,
      up: false,
    };
    const { results, replayer } = replay(recordedLog(converged, [...addressLost, probe]));
    expect(results[0]?.violations).toEqual([]);
    expect(results[0]?.snapshot?.routes).toEqual([]);
    expect(replayer.nodes.get(NODE)?.owned.routes.size).toBe(0);
  });
});
