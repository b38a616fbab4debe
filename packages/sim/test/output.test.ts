/**
 * Progress goes to stderr only when stderr is a terminal; data always stays on stdout.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { progressOnStderr } from "../src/output.ts";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));

function fakeStream(isTTY: boolean): { isTTY: boolean; written: string[]; write(text: string): boolean } {
  const written: string[] = [];
  return {
    isTTY,
    written,
    write(text) {
      written.push(text);
      return true;
    },
  };
}

describe("progressOnStderr", () => {
  it("on a terminal: rewrites one line in place, at most every 200 ms, and clears it when done", () => {
    const stream = fakeStream(true);
    let t = 1000;
    const progress = progressOnStderr("replay x.jsonl", stream, () => t);
    progress.update(10, 100);
    t += 50;
    progress.update(20, 100); // too soon: dropped
    t += 150;
    progress.update(30);
    progress.done();
    expect(stream.written).toEqual(["\rreplay x.jsonl: 10 / 100", "\rreplay x.jsonl: 30", "\r\x1b[K"]);
  });

  it("not on a terminal (a pipe, a file): writes nothing at all", () => {
    const stream = fakeStream(false);
    let t = 0;
    const progress = progressOnStderr("generate", stream, () => t);
    for (let i = 0; i < 10; i++, t += 1000) progress.update(i, 10);
    progress.done();
    expect(stream.written).toEqual([]);
  });

  it("on a terminal that never saw an update: done() writes nothing", () => {
    const stream = fakeStream(true);
    progressOnStderr("generate", stream).done();
    expect(stream.written).toEqual([]);
  });
});

describe("kroute-sim generate, progress and data", () => {
  const args = ["generate", "--nodes", "20", "--routes", "50", "--events", "60000", "--seed", "3"];

  it("with stderr a pipe: data on stdout, nothing on stderr", async () => {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20 });
    expect(stderr).toBe("");
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(60000);
    for (const line of [lines[0], lines.at(-1)]) expect(JSON.parse(line as string)).toHaveProperty("seq");
  });

  it("with stderr a terminal: progress on the terminal, the same bytes on stdout", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-tty-"));
    const out = join(dir, "log.jsonl");
    const quoted = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(" ");
    // script(1) gives the command a pseudo-terminal; only stdout is redirected away from it.
    const tty = await run("script", ["-qec", `${quoted} > '${out}'`, "/dev/null"], { maxBuffer: 64 << 20 });
    expect(tty.stdout).toMatch(/^\rgenerate: 4096 \/ 60000/);
    expect(tty.stdout.endsWith("\r\x1b[K")).toBe(true);
    expect(tty.stdout).not.toContain('"seq"');
    const piped = await run(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20 });
    expect(readFileSync(out, "utf8")).toBe(piped.stdout);
  });
});
