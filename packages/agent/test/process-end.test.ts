/**
 * watchProcessEnd on a stand-in process, for what the real bin cannot be made to do on
 * demand (bin-ending.test.ts runs the rest): a stop that never finishes, a stop that fails.
 */
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { watchProcessEnd } from "../src/process-end.ts";
import { capturedLog } from "./runtime/harness.ts";

function watched(stopDeadlineMs = 100) {
  const proc = new EventEmitter();
  const exits: number[] = [];
  const log = capturedLog();
  const end = watchProcessEnd(log.logger, {
    stopDeadlineMs,
    process: proc,
    exit: (code) => exits.push(code),
  });
  return { proc, exits, log, end };
}

describe("watchProcessEnd", () => {
  it("a stop that outlasts the deadline: logged, and exit status 1 without waiting for it", async () => {
    const { proc, log, end } = watched(100);
    const code = end.stopWith(() => new Promise(() => {}));
    proc.emit("SIGTERM", "SIGTERM");
    expect(await code).toBe(1);
    expect(log.lines().map((l) => l.msg)).toEqual([
      "signal received",
      "the stop did not finish within 100 ms: exiting without it",
    ]);
  });

  it("a stop that fails: logged with its error, and exit status 1", async () => {
    const { proc, log, end } = watched();
    const code = end.stopWith(() => Promise.reject(new Error("socket gone")));
    proc.emit("SIGINT", "SIGINT");
    expect(await code).toBe(1);
    expect(log.lines().at(-1)).toMatchObject({
      msg: "the stop failed: socket gone",
      err: { message: "socket gone" },
    });
  });

  it("a signal during the start: the agent is stopped as soon as it has started, exit status 0", async () => {
    const { proc, end } = watched();
    proc.emit("SIGTERM", "SIGTERM");
    let stopped = false;
    const code = await end.stopWith(async () => {
      stopped = true;
    });
    expect({ code, stopped }).toEqual({ code: 0, stopped: true });
  });
});
