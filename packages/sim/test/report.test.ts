import { describe, expect, it } from "vitest";
import { renderReport } from "../src/report.ts";
import { Timeline } from "../src/timeline.ts";

describe("the --report page", () => {
  it("lists a node's gateway lanes in address order, IPv4 before IPv6", () => {
    const timeline = new Timeline(true);
    const at = "2026-01-01T00:00:00.000Z";
    for (const [seq, gateway] of [
      "fd00::a",
      "10.114.0.10",
      "fd00::9",
      "10.114.0.9",
      "10.114.0.2",
    ].entries()) {
      timeline.seen(seq + 1);
      timeline.gateway("node-a", gateway, { seq: seq + 1, at, up: true });
    }
    const lanes = [...renderReport("r", timeline).matchAll(/>gw ([^<]+)<\/text>/g)].map((m) => m[1]);
    expect(lanes).toEqual(["10.114.0.2", "10.114.0.9", "10.114.0.10", "fd00::9", "fd00::a"]);
  });

  it("counts its nodes in words that agree (1 node, 2 nodes)", () => {
    const timeline = new Timeline(true);
    const at = "2026-01-01T00:00:00.000Z";
    timeline.seen(1);
    timeline.gateway("node-a", "10.114.0.2", { seq: 1, at, up: true });
    expect(renderReport("r", timeline)).toContain("; 1 node. ");
    timeline.gateway("node-b", "10.114.0.2", { seq: 1, at, up: true });
    expect(renderReport("r", timeline)).toContain("; 2 nodes. ");
  });
});
