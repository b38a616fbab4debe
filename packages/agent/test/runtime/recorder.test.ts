/** `--record`: events appended as log lines; a write failure stops the recording, never the agent. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogDecoder, decodeLog, type EngineEvent, encodeLog } from "@kroute/core";
import { describe, expect, it } from "vitest";
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
});
