/** Fail-static grouped per Route, and logged on transitions only. */
import type { DestinationOutcome, IpAddr } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { failStaticLog, failStaticRoutes } from "../src/fail-static.ts";
import { createLogger } from "../src/log.ts";
import { destination, outcome, table } from "./kube/fixtures.ts";

const down = ["10.0.0.2", "10.0.0.1", "fd00::1"] as IpAddr[];
const dest = (route: string, dst: string, failStatic: boolean): DestinationOutcome => ({
  ...destination(route, dst, "programmed"),
  gateways: dst.includes(":") ? [down[2]!] : [down[0]!, down[1]!],
  ...(failStatic ? { failStatic: true } : {}),
});
const step = (egress: readonly boolean[], vpn = false, selected = true) =>
  table([
    outcome("egress", 1, true, {
      selected,
      destinations: [dest("egress", "10.1.0.0/16", egress[0]!), dest("egress", "fd01::/64", egress[1]!)],
    }),
    outcome("vpn", 1, true, { destinations: [dest("vpn", "172.16.0.0/12", vpn)] }),
  ]);

describe("failStaticRoutes", () => {
  it("groups the selected Routes' fail-static destinations with their gateways", () => {
    expect([...failStaticRoutes(step([true, true])).values()]).toEqual([
      {
        route: "egress",
        destinations: ["10.1.0.0/16", "fd01::/64"],
        gateways: ["10.0.0.1", "10.0.0.2", "fd00::1"],
      },
    ]);
    expect(failStaticRoutes(step([true, false], false, false)).size).toBe(0);
  });
});

describe("failStaticLog", () => {
  it("warns once per Route entering fail-static and says once when it is over", () => {
    const lines: { level: string; msg: string; route?: string; gateways?: string[] }[] = [];
    const log = createLogger({
      level: "debug",
      node: "n1",
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    const sink = failStaticLog(log);
    const update = (t: ReturnType<typeof step>) => sink.update(t, undefined as never, "2026-01-01T00:00:00Z");
    update(step([false, false]));
    expect(lines).toEqual([]);
    update(step([true, false]));
    update(step([true, true]));
    update(step([true, true], true));
    expect(lines.map((l) => [l.level, l.route, l.msg])).toEqual([
      ["warn", "egress", "Route egress: every gateway is down; keeping all of them (fail-static)"],
      ["warn", "vpn", "Route vpn: every gateway is down; keeping all of them (fail-static)"],
    ]);
    expect(lines[0]?.gateways).toEqual(["10.0.0.1", "10.0.0.2"]);
    lines.length = 0;
    update(step([false, false], true));
    update(step([false, false], true));
    // vpn is no longer selected: nothing to say about it.
    update(table([outcome("egress", 1, true, { destinations: [dest("egress", "10.1.0.0/16", false)] })]));
    expect(lines.map((l) => [l.level, l.route, l.msg])).toEqual([
      ["info", "egress", "Route egress: no destination is fail-static any more"],
    ]);
  });
});
