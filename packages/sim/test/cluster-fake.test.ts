import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runOnFakeKernels } from "../src/cluster/fake-run.ts";
import { defaultRoutes, routesFromYaml } from "../src/cluster/routes.ts";
import { scenario } from "../src/cluster/scenario.ts";
import { Timeline } from "../src/timeline.ts";

function noWarning(warning: string): void {
  throw new Error(`unexpected warning: ${warning}`);
}

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
      "apiVersion: networking.kroute.dev/v1alpha1\nkind: Route\nmetadata: {name: a}\nspec: {destinations: [10.9.0.0/16], gateways: [10.114.0.3]}\n---\nkind: Route\nmetadata: {name: b}\nspec: {destinations: [10.8.0.0/16], gateways: [10.114.0.4]}\n",
    );
    expect(routesFromYaml([good], noWarning).map((r) => r.metadata.name)).toEqual(["a", "b"]);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "kind: ConfigMap\nmetadata: {name: x}\n");
    expect(() => routesFromYaml([bad], noWarning)).toThrow(
      /bad\.yaml: document 1: kind is "ConfigMap", not "Route"/,
    );
    const empty = join(dir, "empty.yaml");
    writeFileSync(empty, "# every Route commented out\n---\n");
    expect(() => routesFromYaml([good, empty], noWarning)).toThrow(`${empty}: no Route in it`);
  });

  it("names a ROUTES.yaml it cannot read, with the reason", () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-yaml-"));
    expect(() => routesFromYaml([dir], noWarning)).toThrow(
      `cannot read ROUTES.yaml "${dir}": illegal operation on a directory (EISDIR)`,
    );
    const missing = join(dir, "missing.yaml");
    expect(() => routesFromYaml([missing], noWarning)).toThrow(
      `cannot read ROUTES.yaml "${missing}": no such file or directory (ENOENT)`,
    );
  });

  it("refuses a Route the agent would refuse whole, naming the file, document, field and value", () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-yaml-"));
    const path = join(dir, "routes.yaml");
    writeFileSync(
      path,
      "kind: Route\nmetadata: {name: ok}\nspec: {destinations: [10.9.0.0/16], gateways: [10.114.0.3]}\n---\nkind: Route\nmetadata: {name: vpn}\nspec: {destinations: [10.0.0.0/8], gateways: [notanip]}\n",
    );
    expect(() => routesFromYaml([path], noWarning)).toThrow(
      `${path}: document 2: Route "vpn" would be refused by the agent: spec.gateways[0]: "notanip" is not an IPv4 or IPv6 address`,
    );
    writeFileSync(path, "kind: Route\nmetadata: {name: empty}\nspec: {}\n");
    expect(() => routesFromYaml([path], noWarning)).toThrow(/document 1: Route "empty" .*spec\.destinations/);
    // The same name twice: the second would silently replace the first in the API.
    writeFileSync(
      path,
      "kind: Route\nmetadata: {name: a}\nspec: {destinations: [10.9.0.0/16], gateways: [10.114.0.3]}\n",
    );
    expect(() => routesFromYaml([path, path], noWarning)).toThrow(
      `${path}: document 1: a Route named "a" is already in ${path}: document 1`,
    );
  });

  it("warns about a destination the agent would skip, and keeps the Route's others", () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-yaml-"));
    const path = join(dir, "routes.yaml");
    writeFileSync(
      path,
      "kind: Route\nmetadata: {name: mixed}\nspec: {destinations: [10.0.0.300/8, 10.9.0.1/16], gateways: [10.114.0.3]}\n",
    );
    const warnings: string[] = [];
    expect(routesFromYaml([path], (w) => warnings.push(w)).map((r) => r.metadata.name)).toEqual(["mixed"]);
    expect(warnings).toEqual([
      `${path}: document 1: Route "mixed": spec.destinations[0]: "10.0.0.300/8" is not an IPv4 or IPv6 CIDR`,
      expect.stringMatching(/^.*document 1: Route "mixed": spec\.destinations\[1\]: .*10\.9\.0\.0\/16/),
    ]);
  });
});
