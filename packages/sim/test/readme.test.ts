/**
 * The top-level README's replay example is what the command prints: its lines before
 * "..." open the output, and those after it close it.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const PROMPT = "$ scripts/dev run ";

describe("README", () => {
  it("shows a replay exactly as kroute-sim prints it", async () => {
    const readme = readFileSync(`${ROOT}README.md`, "utf8").split("\n");
    const start = readme.findIndex((line) => line.startsWith(`${PROMPT}replay `));
    expect(start).toBeGreaterThan(0);
    const end = readme.indexOf("```", start);
    const args = (readme[start] as string).slice(PROMPT.length).split(" ");
    const shown = readme.slice(start + 1, end);
    const gap = shown.indexOf("...");
    const [head, tail] = gap < 0 ? [shown, []] : [shown.slice(0, gap), shown.slice(gap + 1)];
    // `scripts/dev run` is `pnpm --silent sim`, run from the repository's root.
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args], { cwd: ROOT });
    const printed = stdout.replace(/\n+$/, "").split("\n");
    expect(printed.slice(0, head.length)).toEqual(head);
    expect(printed.slice(printed.length - tail.length)).toEqual(tail);
  });
});
