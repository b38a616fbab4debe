/**
 * How the agent process ends, whatever ends it, with one structured log line saying why.
 *
 * - SIGTERM or SIGINT: the orderly stop (routes stay in place), then exit 0.
 * - An uncaught exception or an unhandled promise rejection (a bug in some callback):
 *   one fatal line naming it, the orderly stop, then exit 1, so that the kubelet
 *   restarts the container. Node's own handling would print a raw stack on stderr,
 *   which no JSON log pipeline parses, and exit without the stop: the status writes in
 *   flight and the recording's last events lost.
 * - A second signal during the stop: logged, then exit at once with 128 + its number
 *   (as a shell reports a process a signal ended), so that a stop can always be cut short.
 * - A stop that outlasts the deadline: logged, then exit 1, before the kubelet's SIGKILL
 *   (after terminationGracePeriodSeconds) would end it without a word.
 *
 * Watched from before the agent starts: a signal or a fault during the start is acted
 * on once the agent has started (or the start has failed).
 */
import type { EventEmitter } from "node:events";
import { constants } from "node:os";
import type { Logger } from "./log.ts";

export interface ProcessEndOptions {
  /** How long the orderly stop may take; kept below the DaemonSet's termination grace period. */
  readonly stopDeadlineMs: number;
  /** Where signals and faults come from (tests pass their own). Default: `process`. */
  readonly process?: EventEmitter;
  /** Ends the process at once (a second signal). Default: `process.exit`. */
  readonly exit?: (code: number) => void;
}

export interface ProcessEnd {
  /**
   * The agent's stop, once it has started. Resolves with the exit status after the
   * first signal or fault (perhaps one that came during the start) and the stop.
   */
  stopWith(stop: () => Promise<void>): Promise<number>;
}

const SIGNALS = ["SIGTERM", "SIGINT"] as const;
/** How long the last log lines may take to reach stdout before the process exits without them. */
const FLUSH_GRACE_MS = 1000;

export function flushLog(log: Logger): Promise<void> {
  return new Promise((done) => {
    const timer = setTimeout(done, FLUSH_GRACE_MS);
    log.flush(() => {
      clearTimeout(timer);
      done();
    });
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function watchProcessEnd(log: Logger, options: ProcessEndOptions): ProcessEnd {
  const proc = options.process ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  /** Set by the first signal or fault: the process is ending. */
  let code: number | undefined;
  let requested: () => void = () => {};
  const endRequested = new Promise<void>((resolve) => {
    requested = resolve;
  });

  const onSignal = (signal: (typeof SIGNALS)[number]) => {
    if (code !== undefined) {
      const status = 128 + constants.signals[signal];
      log.error({ signal, status }, "%s during the stop: exiting at once with status %d", signal, status);
      void flushLog(log).then(() => exit(status));
      return;
    }
    log.info({ signal }, "signal received");
    code = 0;
    requested();
  };
  // After a fault the process goes on only to stop; a later fault is logged, the stop goes on.
  const onFault = (kind: string) => (error: unknown) => {
    log.fatal({ err: error }, "%s: %s; stopping", kind, messageOf(error));
    code = 1;
    requested();
  };
  for (const signal of SIGNALS) proc.on(signal, onSignal);
  proc.on("uncaughtException", onFault("uncaught exception"));
  proc.on("unhandledRejection", onFault("unhandled promise rejection"));

  return {
    async stopWith(stop) {
      await endRequested;
      let timer: NodeJS.Timeout | undefined;
      const outlasted = new Promise<"outlasted">((resolve) => {
        timer = setTimeout(() => resolve("outlasted"), options.stopDeadlineMs);
      });
      const stopped = stop().then(
        () => "stopped" as const,
        (error: unknown) => {
          log.error({ err: error }, "the stop failed: %s", messageOf(error));
          code = 1;
          return "stopped" as const;
        },
      );
      const how = await Promise.race([stopped, outlasted]);
      clearTimeout(timer);
      if (how === "outlasted") {
        log.error(
          { deadlineMs: options.stopDeadlineMs },
          "the stop did not finish within %d ms: exiting without it",
          options.stopDeadlineMs,
        );
        code = 1;
      }
      return code ?? 1; // set by whatever requested the end
    },
  };
}
