/** `--record`: events appended as log lines; a write failure stops the recording, never the agent. */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogDecoder, type EngineEvent } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { openEventRecorder } from "../../src/runtime/recorder.ts";

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
});
