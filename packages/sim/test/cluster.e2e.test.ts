import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Cleanup } from "../src/cluster/cleanup.ts";
import { type ClusterOutcome, runOnRealKernels } from "../src/cluster/real-run.ts";
import { defaultRoutes } from "../src/cluster/routes.ts";
import { scenario } from "../src/cluster/scenario.ts";
import { ECHO } from "../src/cluster/topology.ts";
import { Timeline } from "../src/timeline.ts";
import { trackingNamespaces } from "./helpers.ts";

describeAsRoot("cluster in a box: real agents in namespaces, their recordings replayed", () => {
  const s = scenario(2, 2, defaultRoutes(2));
  const namespaces: string[] = [];
  let outcome: ClusterOutcome;
  let workDir: string;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "kroute-sim-e2e-"));
    const cleanup = new Cleanup();
    const tracked = trackingNamespaces(cleanup, namespaces);
    try {
      outcome = await runOnRealKernels(s, () => {}, new Timeline(false), workDir, tracked);
    } finally {
      await cleanup.run();
    }
  }, 180_000);

  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it("replays each agent's --record log to exactly the table its kernel held", () => {
    expect(outcome.recordings.map((r) => r.node)).toEqual(["node-1", "node-2"]);
    for (const recording of outcome.recordings) {
      expect(recording.kernel.length).toBeGreaterThan(0);
      expect(recording.replayed).toEqual(recording.kernel);
    }
    // node-2 is in the override pool: its kernel holds the default route through both gateways.
    const node2 = outcome.recordings.find((r) => r.node === "node-2");
    expect(node2?.kernel).toContainEqual({
      dst: "0.0.0.0/0",
      table: 254,
      gateways: ["10.114.0.3", "10.114.0.4"],
    });
  });

  it("shows the static egress IP: the destination sees a gateway's address, never the node's, under an override", () => {
    const seen = (phase: string, node: string, destination: string) =>
      Object.keys(
        outcome.egress.find((e) => e.phase === phase && e.node === node && e.destination === destination)
          ?.via ?? {},
      );
    expect(seen("routed", "node-2", ECHO.internet).length).toBeGreaterThan(0);
    for (const source of seen("routed", "node-2", ECHO.internet))
      expect(["198.18.1.1", "198.18.2.1"]).toContain(source);
    // node-1 has no override: to the same destination it leaves through the router with its own address.
    expect(seen("routed", "node-1", ECHO.internet)).toEqual(["10.114.0.20"]);
    // With gw-1 dead, every flow that used to go through it goes through gw-2.
    expect(seen("gw-1 down", "node-2", ECHO.internet)).toEqual(["198.18.2.1"]);
    expect(seen("gw-1 down", "node-1", ECHO.basic)).toEqual(["198.18.2.1"]);
  });

  it("tears every namespace down", () => {
    const left = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
    expect(namespaces.length).toBeGreaterThan(0);
    for (const name of namespaces) expect(left).not.toContain(name);
  });
});
