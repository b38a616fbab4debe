/**
 * `--record FILE`: every event the engine consumes, appended as one JSON line (event
 * log v1, core's encoder), so a replay in the simulator computes what this agent did.
 *
 * A recording is a diagnostic: when writing fails (the volume is full, say), recording
 * stops and `onError` says so once, and the agent goes on routing. An unhandled stream
 * error would end the process, and with the file opened for appending, a full volume
 * would then be a crash loop with no health checks and no failover.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { type EngineEvent, encodeEvent } from "@kroute/core";

export interface EventRecorder {
  record(event: EngineEvent): void;
  close(): Promise<void>;
}

export function openEventRecorder(path: string, onError: (error: Error) => void): Promise<EventRecorder> {
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
