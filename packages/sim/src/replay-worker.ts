/**
 * The worker thread of a parallel replay (parallel-replay.ts): replays its share and
 * posts the result. It waits for a go-ahead before replaying, so that every share
 * starts together and a benchmark times the replay, not thread start-up.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { LogWarning } from "@kroute/core";
import { MalformedLogError } from "./log-reader.ts";
import { type ReplayProgress, replayShare, type ShareResult, type ShareTask } from "./replay-share.ts";

export type WorkerMessage =
  | { readonly kind: "warning"; readonly warning: LogWarning }
  | { readonly kind: "progress"; readonly progress: ReplayProgress }
  | { readonly kind: "ready" }
  | { readonly kind: "done"; readonly result: ShareResult }
  | {
      readonly kind: "failed";
      readonly message: string;
      readonly stack?: string;
      /** A system error's code (ENOENT: the log is missing), for the CLI to report as one thread does. */
      readonly code?: string;
      readonly malformed: boolean;
    };

const port = parentPort;
if (port === null) throw new Error("replay-worker.ts runs as a worker thread of parallel-replay.ts");
const task = workerData as ShareTask;
const post = (message: WorkerMessage): void => port.postMessage(message);

try {
  const result = await replayShare(task, {
    // Every share reads the same log: one of them speaks for all.
    onWarning: (warning) => {
      if (task.part === 0) post({ kind: "warning", warning });
    },
    onProgress: (progress) => post({ kind: "progress", progress }),
    ready: () =>
      new Promise<void>((resolve) => {
        port.once("message", () => resolve());
        post({ kind: "ready" });
      }),
  });
  post({ kind: "done", result });
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  post({
    kind: "failed",
    message: error instanceof Error ? error.message : String(error),
    ...(error instanceof Error && error.stack !== undefined ? { stack: error.stack } : {}),
    ...(typeof code === "string" ? { code } : {}),
    malformed: error instanceof MalformedLogError,
  });
}
