/**
 * Progress goes to stderr only when stderr is a terminal; data always stays on stdout.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { generateLog } from "../src/generate.ts";
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
    progress.update("10 / 100");
    t += 50;
    progress.update("20 / 100"); // too soon: dropped
    t += 150;
    progress.update("30 / 100");
    progress.done();
    expect(stream.written).toEqual(["\rreplay x.jsonl: 10 / 100", "\rreplay x.jsonl: 30 / 100", "\r\x1b[K"]);
  });

  it("not on a terminal (a pipe, a file): writes nothing at all", () => {
    const stream = fakeStream(false);
    let t = 0;
    const progress = progressOnStderr("generate", stream, () => t);
    for (let i = 0; i < 10; i++, t += 1000) progress.update(`${i} / 10`);
    progress.done();
    expect(stream.written).toEqual([]);
  });

  it("on a terminal: a message clears the progress line first and stands on a line of its own", () => {
    const stream = fakeStream(true);
    let t = 1000;
    const progress = progressOnStderr("replay x.jsonl", stream, () => t);
    progress.update("500");
    progress.print("warning: x.jsonl: line 501: unknown event kind\n");
    t += 1000;
    progress.update("1000");
    progress.done();
    progress.print("kroute-sim replay: x.jsonl: line 1001: not JSON\n");
    expect(stream.written).toEqual([
      "\rreplay x.jsonl: 500",
      "\r\x1b[K",
      "warning: x.jsonl: line 501: unknown event kind\n",
      "\rreplay x.jsonl: 1000",
      "\r\x1b[K",
      "kroute-sim replay: x.jsonl: line 1001: not JSON\n",
    ]);
  });

  it("not on a terminal: a message is written as it is", () => {
    const stream = fakeStream(false);
    const progress = progressOnStderr("replay x.jsonl", stream);
    progress.update("500");
    progress.print("warning: w\n");
    progress.done();
    expect(stream.written).toEqual(["warning: w\n"]);
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

describe("kroute-sim replay, progress and messages on a terminal", () => {
  it("a warning and the error that stops the replay each start a line of their own", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-tty-"));
    const log = join(dir, "late-errors.jsonl");
    const { stdout: generated } = await run(
      process.execPath,
      [CLI, ...["generate", "--nodes", "3", "--routes", "5", "--events", "6000", "--seed", "2"]],
      { maxBuffer: 64 << 20 },
    );
    // Even seqs leave room for an event of an unknown kind early on; the progress line is
    // drawn before it and again (200 ms later) before the bad last line.
    const lines = generated
      .trimEnd()
      .split("\n")
      .map((line) => {
        const event = JSON.parse(line) as { seq: number };
        return JSON.stringify({ ...event, seq: event.seq * 2 });
      });
    lines.splice(1000, 0, `{"v":1,"seq":2001,"at":"2026-01-01T00:00:20.000Z","type":"gateway/renamed"}`);
    writeFileSync(log, `${lines.join("\n")}\nnot json\n`);
    const quoted = [process.execPath, CLI, "replay", log, "--json"].map((a) => `'${a}'`).join(" ");
    // script(1) gives the command a pseudo-terminal; stdout goes to /dev/null, stderr stays on it.
    const tty = await run("script", ["-qec", `${quoted} > /dev/null`, "/dev/null"]).catch(
      (error: { stdout: string }) => ({ stdout: error.stdout }),
    );
    expect(tty.stdout).toMatch(/^\rreplay .*late-errors\.jsonl: 500/);
    // Each message follows the progress line's erasure, never the progress text itself.
    const shown = tty.stdout.replaceAll("\r\x1b[K", "<erased>");
    expect(shown).toContain(`<erased>warning: ${log}: line 1001: unknown event kind "gateway/renamed"`);
    expect(shown).toMatch(/late-errors\.jsonl: \d+ events, \d+% of the file<erased>warning: /);
    expect(shown).toMatch(
      /late-errors\.jsonl: \d+ events, \d+% of the file<erased>kroute-sim replay: .*: line 6002: not JSON/,
    );
  });

  it("says how far through the file it is; through a pipe, whose size is unknown, how many events", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-tty-"));
    const log = join(dir, "big.jsonl");
    writeFileSync(log, `${[...generateLog({ nodes: 3, routes: 5, events: 6000, seed: 2 })].join("\n")}\n`);
    const onTerminal = async (command: string): Promise<string> =>
      // script(1) gives the command a pseudo-terminal; stdout goes to /dev/null, stderr stays on it.
      (await run("script", ["-qec", `${command} > /dev/null`, "/dev/null"])).stdout;
    const [file, pipe] = await Promise.all([
      onTerminal(`'${process.execPath}' '${CLI}' replay '${log}' --json`),
      onTerminal(`cat '${log}' | '${process.execPath}' '${CLI}' replay /dev/stdin --json`),
    ]);
    const shownFile = file.split("\r\x1b[K")[0]?.split("\r").slice(1) ?? [];
    expect(shownFile.length).toBeGreaterThan(1);
    const percents = shownFile.map((line) => {
      const match = /^replay .*big\.jsonl: (\d+) events, (\d+)% of the file$/.exec(line);
      expect(match, line).not.toBeNull();
      return Number(match?.[2]);
    });
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(Math.max(...percents)).toBeLessThanOrEqual(100);
    expect(file.endsWith("\r\x1b[K")).toBe(true);
    expect(pipe).toMatch(/^\rreplay \/dev\/stdin: 500 events\r/);
    expect(pipe).not.toContain("%");
  });

  it("writes nothing to a stderr that is not a terminal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kroute-sim-pipe-"));
    const log = join(dir, "big.jsonl");
    writeFileSync(log, `${[...generateLog({ nodes: 3, routes: 5, events: 6000, seed: 2 })].join("\n")}\n`);
    const { stdout, stderr } = await run(process.execPath, [CLI, "replay", log, "--json"]);
    expect(stderr).toBe("");
    expect(JSON.parse(stdout)).toHaveProperty("nodes");
  });
});
