/**
 * Everything a cluster run creates (namespaces, child processes, servers) is
 * registered here as it is created, so that a normal end, Ctrl-C, a crash of any part
 * and process exit all remove it.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import type { Teardown } from "./real-run.ts";

/** Tracks what a run created so that any way out removes it. */
export class Cleanup implements Teardown {
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly steps: (() => Promise<void>)[] = [];
  private running: Promise<void> | undefined;
  private done = false;

  namespace(name: string): void {
    this.namespaces.push(name);
  }

  child(child: ChildProcess): void {
    this.children.push(child);
  }

  defer(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /**
   * Runs the async steps (last deferred first) then `runSync`; a second call, even a
   * concurrent one, shares the first. Setup may still be running when a signal starts
   * this, so a step deferred meanwhile is taken too: the list is drained, not copied.
   */
  run(): Promise<void> {
    this.running ??= (async () => {
      if (this.done) return;
      for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
        try {
          await step();
        } catch (error) {
          process.stderr.write(`kroute-sim cluster: cleanup step failed: ${String(error)}\n`);
        }
      }
      this.runSync();
    })();
    return this.running;
  }

  /** Last resort, from `exit` handlers: kill children, delete namespaces, synchronously. */
  runSync(): void {
    if (this.done) return;
    this.done = true;
    for (const child of this.children)
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const name of this.namespaces) {
      try {
        execFileSync("ip", ["netns", "del", name], { stdio: "ignore" });
      } catch {
        // already gone
      }
    }
  }
}
