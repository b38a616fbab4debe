/**
 * Nothing that ships depends on a private package: `pnpm install @kroute/sim` from a
 * registry would fail on a dependency that is never published. Private packages serve
 * tests only, as devDependencies.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const packagesDir = resolve(import.meta.dirname, "../..");

interface Manifest {
  readonly name: string;
  readonly private?: boolean;
  readonly dependencies?: Record<string, string>;
}

function manifests(): { dir: string; manifest: Manifest }[] {
  return readdirSync(packagesDir).map((dir) => ({
    dir,
    manifest: JSON.parse(readFileSync(join(packagesDir, dir, "package.json"), "utf8")) as Manifest,
  }));
}

/** Every .ts file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe("what ships", () => {
  const all = manifests();
  const privateNames = all.filter((p) => p.manifest.private === true).map((p) => p.manifest.name);
  const published = all.filter((p) => p.manifest.private !== true);

  it("has private packages to guard against (testkit)", () => {
    expect(privateNames).toContain("@kroute/testkit");
  });

  it.each(published.map((p) => [p.manifest.name, p.dir]))(
    "%s lists no private package as a dependency",
    (_, dir) => {
      const manifest = all.find((p) => p.dir === dir)?.manifest;
      const deps = Object.keys(manifest?.dependencies ?? {});
      expect(deps.filter((d) => privateNames.includes(d))).toEqual([]);
    },
  );

  it.each(published.map((p) => [p.manifest.name, p.dir]))(
    "%s imports no private package from src/",
    (_, dir) => {
      const offenders = sources(join(packagesDir, dir, "src")).filter((file) => {
        const text = readFileSync(file, "utf8");
        return privateNames.some((name) => text.includes(`"${name}"`));
      });
      expect(offenders).toEqual([]);
    },
  );
});
