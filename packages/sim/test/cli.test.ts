import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));

async function sim(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("kroute-sim CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "kroute-sim-"));

  it("replay --json prints one sorted document and exits 0 when every invariant holds", async () => {
    const { code, stdout } = await sim("replay", `${EXAMPLES}sim/ecmp-failover.jsonl`, "--json");
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      nodes: {
        "worker-1": {
          routes: [{ dst: "0.0.0.0/5", table: 254, gateways: ["10.114.0.3", "10.114.0.4"] }],
          violations: [],
        },
      },
    });
  });

  it("replay prints ip-route style tables and, with --verbose, the ops of each step", async () => {
    const { stdout } = await sim("replay", `${EXAMPLES}sim/ecmp-failover.jsonl`, "--verbose", "--until", "6");
    expect(stdout).toContain("seq 6 worker-1: nexthop replace id");
    expect(stdout).toMatch(/^0\.0\.0\.0\/5 nhid \d+ proto 201 metric 50$/m);
    expect(stdout).toContain("\tnexthop via 10.114.0.3 dev eth1 weight 1");
    expect(stdout).not.toContain("\tnexthop via 10.114.0.4");
  });

  it("prints the override's rules as ip rule does, suppress_prefixlength included, in the table and the ops", async () => {
    const { code, stdout } = await sim("replay", `${EXAMPLES}basic.jsonl`, "--node", "node-a", "--verbose");
    expect(code).toBe(0);
    expect(stdout).toContain("\n-- rules\n1349:\tfrom all lookup main suppress_prefixlength 1 proto 201\n");
    expect(stdout).toContain("\n1350:\tfrom 203.0.113.10 lookup 135 proto 201\n");
    expect(stdout).toContain(
      "\nseq 7 node-a: rule add 1349: from all lookup main suppress_prefixlength 1 proto 201\n",
    );
  });

  it("prints a host route by its bare address as ip route does, while --json keeps every dst a prefix", async () => {
    const text = await sim("replay", `${EXAMPLES}basic.jsonl`, "--node", "node-a");
    expect(text.stdout).toMatch(
      /^198\.51\.100\.20 nhid \d+ via 203\.0\.113\.1 dev eth0 proto 201 metric 50$/m,
    );
    expect(text.stdout).not.toContain("/32");
    const { stdout } = await sim("replay", `${EXAMPLES}basic.jsonl`, "--node", "node-a", "--json");
    const doc = JSON.parse(stdout) as { nodes: Record<string, { routes: { dst: string }[] }> };
    expect(doc.nodes["node-a"]?.routes.map((r) => r.dst)).toContain("198.51.100.20/32");
  });

  it("refuses a malformed log naming the line, with a non-zero exit", async () => {
    const log = readFileSync(`${EXAMPLES}sim/ecmp-failover.jsonl`, "utf8").split("\n");
    log[3] = log[3]?.replace('"gateway":"10.114.0.3"', '"gateway":"10.114.0.300"') ?? "";
    const path = join(dir, "bad.jsonl");
    writeFileSync(path, log.join("\n"));
    const { code, stderr } = await sim("replay", path);
    expect(code).toBe(1);
    expect(stderr).toMatch(/line 4: .*gateway.*10\.114\.0\.300/);
  });

  it("refuses a gzip or binary LOG saying what it is, and writes none of its control bytes to the terminal", async () => {
    const gzipped = join(dir, "basic.jsonl.gz");
    writeFileSync(gzipped, gzipSync(readFileSync(`${EXAMPLES}basic.jsonl`)));
    const binary = join(dir, "binary.bin");
    writeFileSync(binary, Buffer.from([0x7b, 0x22, 0x76, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]));
    const [gz, bin] = await Promise.all([sim("replay", gzipped), sim("replay", binary)]);
    expect(gz).toMatchObject({ code: 1, stdout: "" });
    expect(gz.stderr).toBe(
      `kroute-sim replay: ${gzipped}: compressed with gzip (it starts with gzip's bytes 1f 8b): decompress it first (gunzip)\n`,
    );
    expect(bin).toMatchObject({ code: 1, stdout: "" });
    expect(bin.stderr).toBe(
      `kroute-sim replay: ${binary}: line 1: not text (control character 0x00 at character 4): an event log is JSON lines\n`,
    );
  });

  it("refuses a binary LOG whose first line has no control character (a PNG) as not text, quoting none of it", async () => {
    const image = join(dir, "image.png");
    // A PNG's signature: its first line, ended by the \r, is 89 50 4e 47.
    writeFileSync(image, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]));
    expect(await sim("replay", image)).toEqual({
      code: 1,
      stdout: "",
      stderr: `kroute-sim replay: ${image}: line 1: not text (bytes that are not UTF-8 at character 1): an event log is JSON lines\n`,
    });
  });

  it("refuses a line too long to be an event, naming it, with no stack trace", async () => {
    // Past the longest string V8 holds (a file without newlines, an image given by mistake):
    // read whole, it crashed with "RangeError: Invalid string length". Sparse: no disk used.
    const path = join(dir, "one-long-line.jsonl");
    writeFileSync(path, `${readFileSync(`${EXAMPLES}sim/ecmp-failover.jsonl`, "utf8").split("\n")[0]}\n`);
    truncateSync(path, 600 * 1024 * 1024);
    const { code, stdout, stderr } = await sim("replay", path);
    expect({ code, stdout }).toEqual({ code: 1, stdout: "" });
    expect(stderr).toBe(
      `kroute-sim replay: ${path}: line 2: more than 256 Mi characters long, which no event is: is this an event log?\n`,
    );
    rmSync(path);
  });

  it("reads a log as Windows editors save it (byte order mark, CRLF) like the original", async () => {
    const original = readFileSync(`${EXAMPLES}basic.jsonl`, "utf8");
    // The mark right before the first event (a blank line would hide it: trim() removes it); and no final newline.
    const windows = join(dir, "windows.jsonl");
    writeFileSync(windows, `\ufeff${original.trimEnd().replaceAll("\n", "\r\n")}`);
    const [copy, reference] = await Promise.all([
      sim("replay", windows, "--json"),
      sim("replay", `${EXAMPLES}basic.jsonl`, "--json"),
    ]);
    expect(copy).toEqual(reference);
    expect(copy.code).toBe(0);
  });

  it("names a log it cannot read, with a non-zero exit and no stack trace", async () => {
    for (const jobs of ["1", "2"]) {
      const missing = await sim("replay", join(dir, "missing.jsonl"), "--jobs", jobs);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(
        `kroute-sim replay: cannot read LOG "${join(dir, "missing.jsonl")}": no such file or directory (ENOENT)\n`,
      );
      const directory = await sim("replay", dir, "--jobs", jobs);
      expect(directory.code).toBe(1);
      expect(directory.stderr).toBe(
        `kroute-sim replay: cannot read LOG "${dir}": illegal operation on a directory (EISDIR)\n`,
      );
    }
  });

  it("refuses host or kernel facts no kernel could hold, naming the file, line and event, with no stack trace", async () => {
    const header = [
      `{"v":1,"seq":10,"at":"2026-01-01T00:00:00Z","type":"node/observed","node":"a","labels":{}}`,
      `{"v":1,"seq":20,"at":"2026-01-01T00:00:00Z","type":"host/observed","node":"a","defaultGateways":[{"via":"10.0.0.1","dev":"DEV"}],"addresses":[{"ip":"10.0.0.5","dev":"DEV","prefixLength":24}],"dns":[],"apiServers":[],"protect":[]}`,
    ];
    const longName = join(dir, "long-device-name.jsonl");
    writeFileSync(longName, header.join("\n").replaceAll("DEV", "averyveryverylongname0"));
    const unknownDevice = join(dir, "address-on-unknown-device.jsonl");
    writeFileSync(
      unknownDevice,
      [
        ...header.map((l) => l.replaceAll("DEV", "eth0")),
        `{"v":1,"seq":30,"at":"2026-01-01T00:00:01Z","type":"kernel/changed","node":"a","change":{"kind":"address","action":"new","address":{"dev":"nosuch0","ip":"10.9.9.9","prefixLength":24,"family":4}}}`,
      ].join("\n"),
    );
    for (const jobs of ["1", "2"]) {
      const long = await sim("replay", longName, "--jobs", jobs);
      expect(long).toMatchObject({ code: 1, stdout: "" });
      expect(long.stderr).toBe(
        `kroute-sim replay: ${longName}: line 2: seq 20: host/observed for node a: invalid link name: "averyveryverylongname0"\n`,
      );
      const unknown = await sim("replay", unknownDevice, "--jobs", jobs);
      expect(unknown).toMatchObject({ code: 1, stdout: "" });
      expect(unknown.stderr).toBe(
        `kroute-sim replay: ${unknownDevice}: line 3: seq 30: kernel/changed for node a: no such link: "nosuch0"\n`,
      );
    }
  });

  it("generate then replay is byte-identical run after run", async () => {
    const args = ["generate", "--nodes", "5", "--routes", "20", "--events", "300", "--seed", "11"];
    const a = await sim(...args);
    const b = await sim(...args);
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const path = join(dir, "gen.jsonl");
    writeFileSync(path, a.stdout);
    const one = await sim("replay", path, "--verbose");
    const two = await sim("replay", path, "--verbose");
    expect(two.stdout).toBe(one.stdout);
    expect(one.stdout.length).toBeGreaterThan(1000);
    const threads = await sim("replay", path, "--verbose", "--jobs", "2");
    expect(threads.stdout).toBe(one.stdout);
    expect(threads.code).toBe(one.code);
  });

  it("refuses a job count that is not a positive integer, naming the flag", async () => {
    const path = `${EXAMPLES}sim/ecmp-failover.jsonl`;
    for (const [jobs, expected] of [
      ["0", /--jobs must be an integer >= 1, got "0"/],
      ["two", /--jobs must be an integer >= 1, got "two"/],
      ["65", /--jobs must be at most 64, got 65/],
    ] as const) {
      const { code, stderr } = await sim("replay", path, "--jobs", jobs);
      expect(code).toBe(2);
      expect(stderr).toMatch(expected);
    }
  });

  it("reads a log from a pipe on one thread, and refuses more threads for it, naming --jobs", async () => {
    const log = `${EXAMPLES}sim/pools-and-conflicts.jsonl`;
    // A shell pipe, as an operator writes one (a Node child's stdin is a socket, not a pipe).
    const fromPipe = (jobs: string) =>
      run("sh", [
        "-c",
        `cat '${log}' | '${process.execPath}' '${CLI}' replay /dev/stdin --json --jobs ${jobs}`,
      ]).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => ({
          code: error.code,
          stdout: error.stdout,
          stderr: error.stderr,
        }),
      );
    const fromFile = await sim("replay", log, "--json");
    expect(await fromPipe("1")).toEqual({ code: 0, stdout: fromFile.stdout, stderr: "" });
    // Each thread would read part of the pipe and fail on a line cut in two.
    expect(await fromPipe("2")).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'kroute-sim replay: --jobs 2 needs a regular file, and "/dev/stdin" is a pipe or device: every thread reads the log whole; use --jobs 1\n',
    });
  });

  it("stops quietly when its reader stops early (| head)", async () => {
    const child = spawn(process.execPath, [
      CLI,
      ...["generate", "--nodes", "50", "--routes", "100", "--events", "200000", "--seed", "3"],
    ]);
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // The reader takes one chunk and goes away, as `head -1` does.
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("writes a self-contained HTML report with a timeline per node", async () => {
    const report = join(dir, "report.html");
    await sim("replay", `${EXAMPLES}sim/pools-and-conflicts.jsonl`, "--report", report);
    const html = readFileSync(report, "utf8");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("<h2>infra-1");
    expect(html).toContain("<h2>worker-1");
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
  });

  it("explains usage errors with exit status 2", async () => {
    expect((await sim("replay")).code).toBe(2);
    const bad = await sim("generate", "--nodes", "x");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--nodes must be an integer >= 1, got "x"');
    expect((await sim("frobnicate")).code).toBe(2);
  });

  it("prints the usage for --help after any command, with generate's and cluster's defaults", async () => {
    for (const command of ["replay", "generate", "cluster", "demo"]) {
      const help = await sim(command, "--help");
      expect(help).toMatchObject({ code: 0, stderr: "" });
      expect(help.stdout).toContain("replay LOG [--node NAME] [--until SEQ] [--verbose] [--json]");
    }
    expect((await sim("generate", "-h")).stdout).toContain(
      "(defaults: 3 nodes, 10 Routes, 100 events, seed 1)",
    );
    expect((await sim("cluster", "--help")).stdout).toContain("(defaults: 2 nodes, 3 gateways)");
  });

  it("names a negative number given to a flag, as any other bad value", async () => {
    const log = `${EXAMPLES}sim/ecmp-failover.jsonl`;
    for (const [args, message] of [
      [["replay", log, "--until", "-1"], `kroute-sim replay: --until must be an integer >= 0, got "-1"\n`],
      [["replay", log, "--jobs", "-2"], `kroute-sim replay: --jobs must be an integer >= 1, got "-2"\n`],
      [["generate", "--routes", "-1"], `kroute-sim generate: --routes must be an integer >= 0, got "-1"\n`],
    ] as const) {
      expect(await sim(...args)).toEqual({ code: 2, stdout: "", stderr: message });
    }
    // A flag where a value belongs is a forgotten value, still refused as one.
    const forgotten = await sim("replay", log, "--node", "--json");
    expect(forgotten).toMatchObject({ code: 2, stdout: "" });
    expect(forgotten.stderr).toContain("Did you forget to specify the option argument for '--node'?");
  });

  it("says a number too large for any flag is too large, not that it is no integer", async () => {
    const log = `${EXAMPLES}sim/ecmp-failover.jsonl`;
    const huge = "99999999999999999999";
    for (const [args, message] of [
      [["generate", "--seed", huge], `kroute-sim generate: --seed ${huge} is too large\n`],
      [["replay", log, "--until", huge], `kroute-sim replay: --until ${huge} is too large\n`],
    ] as const) {
      expect(await sim(...args)).toEqual({ code: 2, stdout: "", stderr: message });
    }
  });

  it("refuses a --node the log has no events for, instead of printing an empty table", async () => {
    const log = `${EXAMPLES}sim/pools-and-conflicts.jsonl`;
    expect((await sim("replay", log, "--node", "worker-1")).code).toBe(0);
    const missing = await sim("replay", log, "--node", "worker-9");
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toBe(`kroute-sim replay: --node "worker-9": no events for this node in ${log}\n`);
    // infra-1 is named from seq 3 on: cut off before that, the message says where it looked.
    const early = await sim("replay", log, "--node", "infra-1", "--until", "2");
    expect(early).toMatchObject({ code: 2, stdout: "" });
    expect(early.stderr).toBe(
      `kroute-sim replay: --node "infra-1": no events for this node in ${log} up to seq 2 (--until)\n`,
    );
  });

  it("refuses a LOG with no events in it, naming it, instead of printing nothing and exiting 0", async () => {
    const logs = [
      { name: "empty.jsonl", text: "", holds: "the file is empty", args: ["--jobs", "2"] },
      { name: "blank.jsonl", text: "\n  \n\r\n", holds: "3 blank lines", args: ["--json"] },
      {
        name: "unknown.jsonl",
        text: `{"v":1,"seq":1,"at":"2026-01-01T00:00:00Z","type":"gateway/renamed"}\n\n`,
        holds: "2 lines: 1 of unknown kinds, the others blank",
        args: ["--node", "a", "--until", "5"],
      },
    ];
    const runs = logs.map(async ({ name, text, holds, args }) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      const empty = await sim("replay", path, ...args);
      expect(empty).toMatchObject({ code: 1, stdout: "" });
      expect(empty.stderr).toContain(`kroute-sim replay: ${path}: no events in it (${holds})\n`);
    });
    await Promise.all(runs);
  });

  it("refuses a LOG that names no node (only Route events), instead of printing nothing and exiting 0", async () => {
    const lines = readFileSync(`${EXAMPLES}sim/pools-and-conflicts.jsonl`, "utf8").split("\n");
    const path = join(dir, "routes-only.jsonl");
    writeFileSync(path, lines.filter((line) => line.includes('"type":"route/')).join("\n"));
    const [text, json] = await Promise.all([sim("replay", path), sim("replay", path, "--json")]);
    for (const run of [text, json]) {
      expect(run).toMatchObject({ code: 1, stdout: "" });
      expect(run.stderr).toBe(
        `kroute-sim replay: ${path}: no node named in it (5 events, all Route events): nothing to simulate\n`,
      );
    }
  });

  it("refuses an --until before the log's first event or past its last, naming both seqs", async () => {
    const log = `${EXAMPLES}sim/pools-and-conflicts.jsonl`;
    const last = readFileSync(log, "utf8").trimEnd().split("\n").length;
    const [before, past, first, atLast, whole] = await Promise.all([
      sim("replay", log, "--until", "0"),
      sim("replay", log, "--until", String(last + 1), "--jobs", "2"),
      // The first and the last events themselves are within the log.
      sim("replay", log, "--until", "1"),
      sim("replay", log, "--until", String(last), "--json"),
      sim("replay", log, "--json"),
    ]);
    expect(before).toMatchObject({ code: 2, stdout: "" });
    expect(before.stderr).toBe(
      `kroute-sim replay: --until 0 is before the first event of ${log} (seq 1): nothing would be replayed\n`,
    );
    expect(past).toMatchObject({ code: 2, stdout: "" });
    expect(past.stderr).toBe(
      `kroute-sim replay: --until ${last + 1} is past the last event of ${log} (seq ${last}); without --until the whole log is replayed\n`,
    );
    expect(first.code).toBe(0);
    expect(atLast.stdout).toBe(whole.stdout);
  });

  it("refuses a --report path it cannot write before it replays, naming the path", async () => {
    const log = `${EXAMPLES}sim/pools-and-conflicts.jsonl`;
    const missing = await sim("replay", log, "--report", join(dir, "no-such-dir", "r.html"));
    expect(missing).toMatchObject({ code: 2, stdout: "" });
    expect(missing.stderr).toContain(`--report cannot be written: "${join(dir, "no-such-dir", "r.html")}"`);
    expect(missing.stderr).toContain("ENOENT");
    expect(missing.stderr).not.toContain("    at ");
    const directory = await sim("replay", log, "--report", dir);
    expect(directory).toMatchObject({ code: 2, stdout: "" });
    expect(directory.stderr).toContain(`--report must be a file, got the directory "${dir}"`);
    const cluster = await sim("cluster", "--fake", "--gateways", "18");
    expect(cluster).toMatchObject({ code: 2, stdout: "" });
    expect(cluster.stderr).toContain("--gateways must be at most 17, got 18");
  });
});
