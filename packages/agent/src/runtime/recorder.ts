/**
 * `--record FILE`: every event the engine consumes, appended as one JSON line (event
 * log v1, core's encoder), so a replay in the simulator computes what this agent did.
 *
 * A recording is a diagnostic: when writing fails (the volume is full, say), recording
 * stops and `onError` says so once, and the agent goes on routing. Were the error thrown
 * instead, it would end the process, and with the file opened for appending, a full
 * volume would then be a crash loop with no health checks and no failover.
 *
 * Nor may a file that cannot keep up (a slow disk, a pipe nobody reads) hold the agent's
 * memory: past `maxQueuedBytes` of events waiting for it, recording stops too. It stops
 * rather than skipping events: the log has no way to say some are missing, and a replay
 * of a log with a hole computes a wrong table without a word. What is queued is whole
 * lines, so the file still ends with a whole event; it is then a faithful log of the
 * agent up to that event. At close, what the file has not taken after `closeTimeoutMs`
 * is given up (said through `onError` too), so that a stuck file cannot hold up a stop.
 *
 * An agent restarted with the same file goes on with it (recording-end.ts): its events
 * are numbered on from the file's last seq, so the file stays one valid log.
 */
import { truncate } from "node:fs/promises";
import { type EngineEvent, encodeEvent } from "@kroute/core";
import { openAppendWriter } from "./append-writer.ts";
import { recordingEnd } from "./recording-end.ts";

export interface EventRecorder {
  /** The seq of the file's last event when it was opened (0 for a new file): the engine numbers on from it. */
  readonly lastSeq: number;
  record(event: EngineEvent): void;
  close(): Promise<void>;
}

export interface RecorderLimits {
  /** Bytes of events waiting for the file, at most, before recording stops. Default 32 MiB. */
  readonly maxQueuedBytes?: number;
  /** How long close waits for the file to take what is queued. Default 5 s. */
  readonly closeTimeoutMs?: number;
}

const MIB = 1024 * 1024;

export async function openEventRecorder(
  path: string,
  onError: (error: Error) => void,
  limits: RecorderLimits = {},
): Promise<EventRecorder> {
  const maxQueuedBytes = limits.maxQueuedBytes ?? 32 * MIB;
  const closeTimeoutMs = limits.closeTimeoutMs ?? 5000;
  const end = await recordingEnd(path);
  if (end.wholeBytes < end.size) await truncate(path, end.wholeBytes);
  let recording = true;
  const stopRecording = (error: Error) => {
    if (!recording) return;
    recording = false;
    onError(error);
  };
  const writer = await openAppendWriter(path, stopRecording);
  return {
    lastSeq: end.lastSeq,
    record(event) {
      if (!recording) return;
      writer.write(`${encodeEvent(event)}\n`);
      if (writer.queuedBytes <= maxQueuedBytes) return;
      // What is queued stays queued, and is whole lines: the file still gets them.
      stopRecording(
        new Error(
          `it cannot keep up: ${writer.queuedBytes} bytes of events wait to be written ` +
            `(at most ${maxQueuedBytes}); once it has taken them, it ends with seq ${event.seq}`,
        ),
      );
    },
    async close() {
      recording = false;
      const givenUp = await writer.close(closeTimeoutMs);
      if (givenUp === 0) return;
      onError(
        new Error(
          `it took no more within ${closeTimeoutMs} ms of the stop: ` +
            `${givenUp} bytes of events given up, and its last line may be cut short`,
        ),
      );
    },
  };
}
