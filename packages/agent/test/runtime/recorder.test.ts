/**
 * `--record`: events appended as log lines; a write failure, or a file that cannot keep
 * up, stops the recording, never the agent.
 */
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogDecoder, decodeLog, type EngineEvent, encodeLog } from "@kroute/core";
import { afterEach, describe, expect, it } from "vitest";
import { openEventRecorder } from "../../src/runtime/recorder.ts";

const tempFile = () => join(mkdtempSync(join(tmpdir(), "kroute-record-")), "events.jsonl");

const timer = (seq: number): EngineEvent => ({
  v: 1,
  seq,
  at: "2026-01-01T00:00:00.000Z",
  type: "timer/fired",
  node: "node-a",
  timer: "resync",
});

/** A named pipe that the test holds open and reads only when it chooses: a file that takes nothing. */
function blockedPipe(): { path: string; readAvailable(): string; close(): void } {
  const path = join(mkdtempSync(join(tmpdir(), "kroute-record-")), "events.fifo");
  execFileSync("mkfifo", [path]);
  // Read and write: opening it never waits, and the recorder's own opens find both ends present.
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  const chunk = Buffer.alloc(64 * 1024);
  let open = true;
  return {
    path,
    readAvailable() {
      let text = "";
      for (;;) {
        try {
          const n = readSync(fd, chunk);
          text += chunk.toString("utf8", 0, n);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "EAGAIN") return text;
          throw error;
        }
      }
    },
    close() {
      // The recorder's write blocked on the full pipe then fails (EPIPE) and its thread is freed.
      if (open) closeSync(fd);
      open = false;
    },
  };
}

const pipes: ReturnType<typeof blockedPipe>[] = [];
afterEach(() => {
  for (const pipe of pipes.splice(0)) pipe.close();
});

describe("openEventRecorder", () => {
  it("appends each event as one line of the event log", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "kroute-record-")), "events.jsonl");
    const recorder = await openEventRecorder(file, (error) => expect.fail(String(error)));
    recorder.record(timer(1));
    recorder.record(timer(2));
    await recorder.close();
    const decoder = createLogDecoder();
    const decoded = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => decoder.push(line));
    expect(decoded).toEqual([
      { kind: "event", event: timer(1) },
      { kind: "event", event: timer(2) },
    ]);
  });

  it("stops recording and reports once when a write fails (a full volume), and the process goes on", async () => {
    const errors: Error[] = [];
    const recorder = await openEventRecorder("/dev/full", (error) => errors.push(error));
    recorder.record(timer(1));
    await new Promise((r) => setTimeout(r, 50));
    recorder.record(timer(2));
    recorder.record(timer(3));
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(["ENOSPC"]);
    await recorder.close();
  });

  it("refuses a file it cannot open, naming it", async () => {
    await expect(openEventRecorder("/nonexistent-dir/events.jsonl", () => {})).rejects.toThrow(
      /nonexistent-dir\/events.jsonl/,
    );
  });

  it("goes on from the seq of the file's last line, however long that line is", async () => {
    const file = tempFile();
    const long: EngineEvent = {
      v: 1,
      seq: 2,
      at: timer(2).at,
      type: "node/observed",
      node: "node-a",
      labels: {},
    };
    const labels = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`label-${i}`, "x"]));
    writeFileSync(file, encodeLog([timer(1), { ...long, labels }]));
    const recorder = await openEventRecorder(file, (error) => expect.fail(String(error)));
    expect(recorder.lastSeq).toBe(2);
    recorder.record(timer(3));
    await recorder.close();
    const decoded = decodeLog(readFileSync(file, "utf8"));
    expect(decoded.ok && decoded.events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("drops a last line cut short (an agent killed while writing it), so the next one starts a line", async () => {
    const file = tempFile();
    const line = encodeLog([timer(2)]);
    writeFileSync(file, encodeLog([timer(1)]) + line.slice(0, 30));
    const recorder = await openEventRecorder(file, (error) => expect.fail(String(error)));
    expect(recorder.lastSeq).toBe(1);
    recorder.record(timer(2));
    await recorder.close();
    expect(readFileSync(file, "utf8")).toBe(encodeLog([timer(1), timer(2)]));
  });

  it("refuses to append to a file that is not an event log, naming it", async () => {
    const file = tempFile();
    writeFileSync(file, "some notes\nthe operator keeps here\n");
    await expect(openEventRecorder(file, () => {})).rejects.toThrow(`${file} is not an event log`);
    writeFileSync(file, "no newline at all");
    await expect(openEventRecorder(file, () => {})).rejects.toThrow(`${file} is not an event log`);
    expect(readFileSync(file, "utf8")).toBe("no newline at all");
  });

  it("stops recording, once, when the file cannot keep up (a pipe nobody reads): events wait in memory up to the limit, and the file ends with a whole event", async () => {
    const pipe = blockedPipe();
    pipes.push(pipe);
    const errors: Error[] = [];
    const recorder = await openEventRecorder(pipe.path, (error) => errors.push(error), {
      maxQueuedBytes: 256 * 1024,
      closeTimeoutMs: 10_000,
    });
    for (let seq = 1; seq <= 20_000; seq++) recorder.record(timer(seq));
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(
        /^it cannot keep up: \d+ bytes of events wait to be written \(at most 262144\); once it has taken them, it ends with seq \d+$/,
      ),
    ]);
    const lastSeq = Number(/seq (\d+)$/.exec(errors[0]?.message ?? "")?.[1]);
    // About 256 KiB of ~100-byte lines queued, and 64 KiB in the pipe: the rest was never held.
    expect(lastSeq).toBeGreaterThan(2000);
    expect(lastSeq).toBeLessThan(4000);

    // The pipe is read at last: the file takes what was queued, and the recorder closes.
    let closed = false;
    const closing = recorder.close().then(() => {
      closed = true;
    });
    let text = "";
    while (!closed) {
      text += pipe.readAvailable();
      await sleep(5);
    }
    await closing;
    text += pipe.readAvailable();
    const decoded = decodeLog(text);
    expect(decoded.ok ? "ok" : decoded.error).toBe("ok");
    expect(decoded.events.map((e) => e.seq)).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
    expect(errors).toHaveLength(1);
  });

  it("gives up at close what a stuck file has not taken within the timeout, saying so, so that a stop never hangs on it", async () => {
    const pipe = blockedPipe();
    pipes.push(pipe);
    const errors: Error[] = [];
    const recorder = await openEventRecorder(pipe.path, (error) => errors.push(error), {
      closeTimeoutMs: 300,
    });
    for (let seq = 1; seq <= 2000; seq++) recorder.record(timer(seq));
    const started = performance.now();
    await recorder.close();
    // Its 300 ms, not the 5 s default nor forever: the margin up to the default is for the
    // timer firing late on a loaded machine, which the agent's stop would see just the same.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(
        /^it took no more within 300 ms of the stop: \d+ bytes of events given up, and its last line may be cut short$/,
      ),
    ]);
  });

  it("refuses a FIFO that nobody has open for reading, at once, rather than waiting for a reader", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "kroute-record-")), "events.fifo");
    execFileSync("mkfifo", [path]);
    await expect(openEventRecorder(path, () => {})).rejects.toThrow(/ENXIO.*events\.fifo/);
  });
});
