/**
 * The cluster in a box judges the egress it shows: a gateway that stops masquerading
 * lets the node's own address out where the override sends everything through the
 * gateways, and the run must count that as a problem instead of saying every check held.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, expect, it } from "vitest";
import { Cleanup } from "../src/cluster/cleanup.ts";
import { runOnRealKernels } from "../src/cluster/real-run.ts";
import { defaultRoutes } from "../src/cluster/routes.ts";
import { scenario } from "../src/cluster/scenario.ts";
import { Timeline } from "../src/timeline.ts";
import { trackingNamespaces } from "./helpers.ts";

describeAsRoot("cluster in a box: the egress it shows is checked against the predicted tables", () => {
  const workDir = mkdtempSync(join(tmpdir(), "kroute-sim-egress-"));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it("counts a node's own address seen through a gateway that stopped masquerading as a problem", async () => {
    // One gateway: node-2's override and node-1's ECMP Route both go through gw-1 alone.
    const s = scenario(2, 1, defaultRoutes(1));
    const cleanup = new Cleanup();
    const namespaces: string[] = [];
    const lines: string[] = [];
    const print = (line: string): void => {
      lines.push(line);
      // The topology is built by now, and no flow has been sent: gw-1 forwards without NAT from here on.
      if (line.startsWith("## 1.")) {
        const gw1 = namespaces.find((n) => n.startsWith("kr-gw1-")) as string;
        execFileSync("ip", ["netns", "exec", gw1, "nft", "delete", "table", "inet", "kr_nat"]);
      }
    };
    const teardown = trackingNamespaces(cleanup, namespaces);
    try {
      const outcome = await runOnRealKernels(s, print, new Timeline(false), workDir, teardown);
      // The internet routes the LAN back through the router, so the echo answers the node's own address.
      expect(lines).toContain(
        "node-2 → 192.0.2.10: 10.114.0.21 ×8 (node-2's own address (left through the router))",
      );
      expect(lines).toContain(
        "!! node-2 → 192.0.2.10: saw 10.114.0.21, where the predicted table allows 198.18.1.1",
      );
      expect(lines).toContain(
        "!! node-1 → 203.0.113.10: saw 10.114.0.20, where the predicted table allows 198.18.1.1",
      );
      // To the same destination, node-1 has no override: its own address through the router is right.
      expect(lines.filter((l) => l.startsWith("!! node-1 → 192.0.2.10"))).toEqual([]);
      expect(outcome.problems).toBeGreaterThan(0);
    } finally {
      await cleanup.run();
    }
  }, 180_000);
});
