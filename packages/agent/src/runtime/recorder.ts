/**
 * `--record FILE`: every event the engine consumes, appended as one JSON line (event
 * log v1, core's encoder), so a replay in the simulator computes what this agent did.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { type EngineEvent, encodeEvent } from "@kroute/core";

export interface EventRecorder {
  record(event: EngineEvent): void;
  close(): Promise<void>;
}

export function openEventRecorder(path: string): Promise<EventRecorder> {
  const stream: WriteStream = createWriteStream(path, { flags: "a" });
  return new Promise((resolve, reject) => {
    stream.once("error", reject);
    stream.once("open", () => {
      stream.off("error", reject);
      resolve({
        record(event) {
          stream.write(`${encodeEvent(event)}\n`);
        },
        close() {
          return new Promise((done) => stream.end(done));
        },
      });
    });
  });
}
