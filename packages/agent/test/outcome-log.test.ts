/** Refused Routes, destination problems and gateway health in the log, on transitions only. */
import type { DesiredTable } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/log.ts";
import { outcomeLog } from "../src/outcome-log.ts";
import { destination, gateway, outcome, table } from "./kube/fixtures.ts";

function logged() {
  const lines: { level: string; msg: string; [field: string]: unknown }[] = [];
  const log = createLogger({
    level: "debug",
    node: "n1",
    destination: { write: (line: string) => lines.push(JSON.parse(line)) },
  });
  const sink = outcomeLog(log);
  return {
    update: (t: DesiredTable) => sink.update(t, undefined as never, "2026-01-01T00:00:00Z"),
    /** The lines since the last call, as [level, msg]. */
    take: () => lines.splice(0).map((l) => [l.level, l.msg]),
  };
}

describe("outcomeLog", () => {
  it("logs a Route refused as a whole once per message, and when it is accepted again", () => {
    const { update, take } = logged();
    const refused = (message: string) =>
      table([outcome("bad", 1, false, { selected: false, reason: "Invalid", message })]);
    update(refused('spec.table: "x" is not a table id'));
    update(refused('spec.table: "x" is not a table id'));
    expect(take()).toEqual([["warn", 'Route bad refused: spec.table: "x" is not a table id']]);
    update(refused("spec.gateways: required"));
    update(table([outcome("bad", 2, true, { selected: false, reason: "Accepted" })]));
    update(table([outcome("bad", 2, true, { selected: false, reason: "Accepted" })]));
    expect(take()).toEqual([
      ["warn", "Route bad refused: spec.gateways: required"],
      ["info", "Route bad accepted"],
    ]);
    // Deleted while refused, then created again refused: new news.
    update(refused("spec.gateways: required"));
    update(table([]));
    update(refused("spec.gateways: required"));
    expect(take()).toEqual([
      ["warn", "Route bad refused: spec.gateways: required"],
      ["warn", "Route bad refused: spec.gateways: required"],
    ]);
  });

  it("logs a destination's problem when it starts or changes, and its recovery once it is in", () => {
    const { update, take } = logged();
    const step = (state: Parameters<typeof destination>[2], reason?: string, selected = true) =>
      table([
        outcome("egress", 1, true, {
          selected,
          destinations: [
            destination("egress", "192.0.2.0/24", state, reason),
            destination("egress", "127.0.0.0/8", "invalid", "a protected prefix (loopback)"),
          ],
        }),
      ]);
    update(step("programmed"));
    update(step("programmed"));
    expect(take()).toEqual([
      ["warn", "Route egress: destination 127.0.0.0/8 invalid: a protected prefix (loopback)"],
    ]);
    update(step("failed", "File exists"));
    update(step("failed", "File exists"));
    update(step("pending", "not yet applied"));
    update(step("conflicted", "conflicts with Route other"));
    update(step("pending", "not yet applied"));
    update(step("programmed"));
    update(step("programmed"));
    expect(take()).toEqual([
      ["warn", "Route egress: destination 192.0.2.0/24 failed: File exists"],
      ["warn", "Route egress: destination 192.0.2.0/24 conflicted: conflicts with Route other"],
      ["info", "Route egress: destination 192.0.2.0/24 programmed (was conflicted)"],
    ]);
    // No longer selected: forgotten, so the same problem is news when it is selected again.
    update(step("failed", "File exists", false));
    update(step("failed", "File exists"));
    expect(take()).toEqual([
      ["warn", "Route egress: destination 192.0.2.0/24 failed: File exists"],
      ["warn", "Route egress: destination 127.0.0.0/8 invalid: a protected prefix (loopback)"],
    ]);
  });

  it("logs a gateway going down and coming back, once each", () => {
    const { update, take } = logged();
    const step = (state: "up" | "down" | "unknown") =>
      table([], [gateway("10.0.0.3", state, { usedBy: ["egress"] }), gateway("10.0.0.4", "up")]);
    update(step("unknown"));
    update(step("up"));
    expect(take()).toEqual([]);
    update(step("down"));
    update(step("down"));
    update(step("up"));
    update(step("up"));
    expect(take()).toEqual([
      ["warn", "gateway 10.0.0.3 is down: taken out of its routes"],
      ["info", "gateway 10.0.0.3 is up again"],
    ]);
  });
});
