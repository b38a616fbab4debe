/**
 * The README's promise to a fresh machine: exactly two set-up commands, one for the
 * main job and one for every test, and CI runs that same test command, so a green
 * CI means the README's command is green. (`scripts/dev test` exits non-zero when a
 * test fails: vitest's status is the script's.)
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");

/** The commands of the code block under README's "Set-up on a fresh machine", comments dropped. */
function setupCommands(): string[] {
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  const section = readme.split(/^## /m).find((s) => s.startsWith("Set-up on a fresh machine"));
  if (section === undefined) throw new Error('README.md has no "## Set-up on a fresh machine" section');
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error("README.md's set-up section has no sh code block");
  return block
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "");
}

/** The commands .ci/run runs, in order: its lines that are neither comments, blank nor shell structure. */
function ciCommands(): string[] {
  return readFileSync(resolve(root, ".ci/run"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

describe("README set-up and CI", () => {
  it("gives exactly two set-up commands: the main job, then every test", () => {
    expect(setupCommands()).toEqual(["scripts/dev run", "scripts/dev test"]);
  });

  it(".ci/run stops at the first failing command and ends with the README's test command", () => {
    const commands = ciCommands();
    expect(commands).toContain("set -euo pipefail");
    expect(commands.at(-1)).toBe(setupCommands()[1]);
  });

  it("the test command runs the typecheck, the linter and formatter check, and vitest", () => {
    const manifest = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const dev = readFileSync(resolve(root, "scripts/dev"), "utf8");
    expect(dev).toMatch(/^\s*test\) exec pnpm --silent run test:all "\$@" ;;$/m);
    expect(manifest.scripts["test:all"]).toBe("pnpm run typecheck && pnpm run lint && vitest run");
    expect(manifest.scripts.typecheck).toBe("tsc -b");
    expect(manifest.scripts.lint).toBe("biome check .");
  });
});
