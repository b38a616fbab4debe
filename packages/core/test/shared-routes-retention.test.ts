/**
 * The Route index versions shared across node states (shared-routes.ts withRoute) must
 * not keep each other alive: an index someone holds (a snapshot's) would otherwise keep
 * every later version, one per Route event, for as long as an agent runs. Checked in a
 * fresh Node with --expose-gc, since only a collection can show what is retained.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const module = resolve(import.meta.dirname, "../src/shared-routes.ts");

describe("shared Route index versions", () => {
  it("are shared while alive, and not kept alive by the version they were made from", async () => {
    const script = `
      const { validatedRoute, validatedSnapshot, withRoute } = await import(${JSON.stringify(module)});
      const route = (name, generation) => ({
        apiVersion: "networking.kroute.dev/v1alpha1",
        kind: "Route",
        metadata: { name, generation, creationTimestamp: "2026-01-01T00:00:00Z" },
        spec: { destinations: ["10.9.0.0/16"], gateways: ["10.114.0.3"] },
      });
      const first = validatedSnapshot([route("a", 1), route("b", 1)]);
      const changed = validatedRoute(route("a", 2));
      let latest = withRoute(first, "a", changed);
      const shared = withRoute(first, "a", changed) === latest;
      const made = new WeakRef(latest);
      for (let generation = 3; generation < 10; generation++)
        latest = withRoute(latest, "b", validatedRoute(route("b", generation)));
      await new Promise((r) => setTimeout(r, 0));
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 0));
      console.log(JSON.stringify({ shared, collected: made.deref() === undefined, firstSize: first.size, latestSize: latest.size }));`;
    const { stdout } = await promisify(execFile)(process.execPath, [
      "--expose-gc",
      "--input-type=module",
      "-e",
      script,
    ]);
    expect(JSON.parse(stdout)).toEqual({ shared: true, collected: true, firstSize: 2, latestSize: 2 });
  });
});
