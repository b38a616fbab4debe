import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOnFakeKernels } from "../src/cluster/fake-run.ts";
import { defaultRoutes, routesFromYaml } from "../src/cluster/routes.ts";
import { scenario } from "../src/cluster/scenario.ts";
import { Timeline } from "../src/timeline.ts";

function run(nodes: number, gateways: number): string[] {
  const lines: string[] = [];
  runOnFakeKernels(
    scenario(nodes, gateways, defaultRoutes(gateways)),
    (line) => lines.push(line),
    new Timeline(false),
  );
  return lines;
}

describe("cluster in a box on fake kernels (no root)", () => {
  it("tells the same story: Routes per pool, egress through gateways, failover and recovery", () => {
    const lines = run(2, 3);
    const egress = lines.filter((l) => l.includes(" → "));
    expect(egress).toHaveLength(12); // 2 nodes × 3 destinations, before and after the failure
    const [routed, failed] = [egress.slice(0, 6), egress.slice(6)];
    // node-2 is in the override pool: to any destination it leaves through gw-1/gw-2, never with its own address.
    expect(routed.find((l) => l.startsWith("node-2 → 192.0.2.10"))).toMatch(
      /^node-2 → 192\.0\.2\.10: (198\.18\.[12]\.1 ×\d+ \(gw-[12]'s static egress IP\)(, )?)+$/,
    );
    // node-1 (worker-pool) has no override: that destination sees its own address.
    expect(routed.find((l) => l.startsWith("node-1 → 192.0.2.10"))).toContain(
      "10.114.0.20 ×8 (node-1's own address",
    );
    // The single-gateway Route goes through gw-3 on every node.
    expect(routed.filter((l) => l.includes("→ 198.51.100.10: 198.18.3.1 ×8"))).toHaveLength(2);
    // gw-1 down: nothing leaves through it any more.
    for (const line of failed) expect(line).not.toContain("198.18.1.1");
  });

  it("reads Routes from YAML, refusing documents that are not Routes", () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-yaml-"));
    const good = join(dir, "routes.yaml");
    writeFileSync(
      good,
      "apiVersion: networking.kroute.dev/v1alpha1\nkind: Route\nmetadata: {name: a}\nspec: {destinations: [10.9.0.0/16], gateways: [10.114.0.3]}\n---\nkind: Route\nmetadata: {name: b}\nspec: {}\n",
    );
    expect(routesFromYaml([good]).map((r) => r.metadata.name)).toEqual(["a", "b"]);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "kind: ConfigMap\nmetadata: {name: x}\n");
    expect(() => routesFromYaml([bad])).toThrow(/bad\.yaml: document 1: kind is "ConfigMap", not "Route"/);
  });
});
