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
  /** Namespace creations under way: each must end before the names are removed. */
  private readonly creations = new Set<Promise<unknown>>();
  private running: Promise<void> | undefined;
  private done = false;

  /**
   * A namespace about to be added. Once the teardown has begun none is: setup carries on
   * after a signal until it next fails, and a namespace it added then would outlive the run.
   */
  namespace(name: string): void {
    if (this.running !== undefined) throw new Error(`tearing down: namespace ${name} not created`);
    this.namespaces.push(name);
  }

  /** Waits for the creation in `run` before removing names: one removed mid-add would be added after. */
  creating<T>(creation: Promise<T>): Promise<T> {
    const settled = creation.then(
      () => undefined,
      () => undefined,
    );
    this.creations.add(settled);
    void settled.then(() => this.creations.delete(settled));
    return creation;
  }

  child(child: ChildProcess): void {
    this.children.push(child);
  }

  defer(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /**
   * Runs the async steps (last deferred first), waits for namespace creations under way,
   * then `runSync`; a second call, even a concurrent one, shares the first. Setup may
   * still be running when a signal starts this, so a step deferred meanwhile is taken
   * too: the list is drained, not copied.
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
      while (this.creations.size > 0) await Promise.all(this.creations);
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
