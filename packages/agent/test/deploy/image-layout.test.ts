/**
 * The image's layout, rebuilt outside the workspace: the bundle in dist/ and koffi (with
 * its native addon) in node_modules/, nothing else. The Dockerfile cannot be built here
 * (no container engine), so this checks what it relies on: that the bundle runs with
 * only koffi beside it, that the Dockerfile starts the file the bundler writes, and that
 * its install stage sees every workspace package the agent's install reaches.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { promisify } from "node:util";
import { createNetns, type Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleAgent } from "../../src/deploy/bundle.ts";

const repoRoot = resolve(import.meta.dirname, "../../../..");
const run = promisify(execFile);

/** koffi as pnpm installed it: `.pnpm/koffi@<version>/node_modules`, holding koffi and its addon package. */
function koffiInstall(): string {
  const store = join(repoRoot, "node_modules/.pnpm");
  const entry = readdirSync(store).find((name) => name.startsWith("koffi@"));
  if (entry === undefined) throw new Error(`no koffi in ${store}`);
  return join(store, entry, "node_modules");
}

describeAsRoot("the image's layout", () => {
  let image = "";
  let entry = "";
  let ns: Netns | undefined;

  beforeAll(async () => {
    image = mkdtempSync(join(tmpdir(), "kroute-image-"));
    entry = await bundleAgent(join(image, "dist"));
    // What the Dockerfile's `cp -rL` does: symlinks resolved.
    cpSync(koffiInstall(), join(image, "node_modules"), { recursive: true, dereference: true });
    ns = await createNetns("kr-image");
  });

  afterAll(async () => {
    await ns?.destroy();
    rmSync(image, { recursive: true, force: true });
  });

  it("runs the bundle with only koffi beside it: cleanup reaches the kernel through the FFI", async () => {
    const { stdout } = await run(process.execPath, [entry, "cleanup", `--netns=${ns?.name}`], {
      cwd: image,
    });
    expect(stdout).toBe("0 kroute objects removed, 0 failed\n");
  });

  it("starts the file the bundler writes", () => {
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(finalStage).toContain(`ENTRYPOINT ["node", "/app/dist/${basename(entry)}"]`);
    expect(finalStage).toMatch(/^COPY --from=build \/src\/packages\/agent\/dist \/app\/dist$/m);
    expect(finalStage).toMatch(/^COPY --from=build \/koffi \/app\/node_modules$/m);
  });
});

/** Workspace packages by name: their directory under packages/ and their workspace dependencies. */
function workspacePackages(): Map<string, { dir: string; uses: string[] }> {
  const packages = new Map<string, { dir: string; uses: string[] }>();
  for (const dir of readdirSync(join(repoRoot, "packages"))) {
    const manifest = JSON.parse(readFileSync(join(repoRoot, "packages", dir, "package.json"), "utf8")) as {
      name: string;
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    const all = { ...manifest.dependencies, ...manifest.devDependencies };
    const uses = Object.keys(all).filter((name) => all[name]?.startsWith("workspace:"));
    packages.set(manifest.name, { dir, uses });
  }
  return packages;
}

describe("the Dockerfile's install stage", () => {
  it("copies the manifest of every workspace package `pnpm install --filter @kroute/agent...` reaches", () => {
    const packages = workspacePackages();
    const reached = new Set<string>();
    const visit = (name: string): void => {
      if (reached.has(name)) return;
      reached.add(name);
      for (const used of packages.get(name)?.uses ?? []) visit(used);
    };
    visit("@kroute/agent");
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    const install = dockerfile.slice(0, dockerfile.indexOf("RUN pnpm install"));
    const missing = [...reached]
      .map((name) => packages.get(name)?.dir ?? name)
      .filter((dir) => !install.includes(`COPY packages/${dir}/package.json packages/${dir}/\n`));
    expect(missing).toEqual([]);
  });
});
