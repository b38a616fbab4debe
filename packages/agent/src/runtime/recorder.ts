/**
 * `--record FILE`: every event the engine consumes, appended as one JSON line (event
 * log v1, core's encoder), so a replay in the simulator computes what this agent did.
 *
 * A recording is a diagnostic: when writing fails (the volume is full, say), recording
 * stops and `onError` says so once, and the agent goes on routing. An unhandled stream
 * error would end the process, and with the file opened for appending, a full volume
 * would then be a crash loop with no health checks and no failover.
 *
 * An agent restarted with the same file goes on with it (recording-end.ts): its events
 * are numbered on from the file's last seq, so the file stays one valid log.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { truncate } from "node:fs/promises";
import { type EngineEvent, encodeEvent } from "@kroute/core";
import { recordingEnd } from "./recording-end.ts";

export interface EventRecorder {
  /** The seq of the file's last event when it was opened (0 for a new file): the engine numbers on from it. */
  readonly lastSeq: number;
  record(event: EngineEvent): void;
  close(): Promise<void>;
}

export async function openEventRecorder(
  path: string,
  onError: (error: Error) => void,
): Promise<EventRecorder> {
  const end = await recordingEnd(path);
  if (end.wholeBytes < end.size) await truncate(path, end.wholeBytes);
  const stream: WriteStream = createWriteStream(path, { flags: "a" });
  return new Promise((resolve, reject) => {
    stream.once("error", reject);
    stream.once("open", () => {
      stream.off("error", reject);
      let failed = false;
      stream.on("error", (error) => {
        if (failed) return;
        failed = true;
        onError(error);
        stream.destroy();
      });
      resolve({
        lastSeq: end.lastSeq,
        record(event) {
          if (!failed) stream.write(`${encodeEvent(event)}\n`);
        },
        close() {
          if (failed) return Promise.resolve();
          return new Promise((done) => stream.end(done));
        },
      });
    });
  });
}
