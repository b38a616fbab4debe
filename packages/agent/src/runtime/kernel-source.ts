/**
 * The kernel as an event source: a full dump (`kernel/observed`) first, then every
 * change notification (`kernel/changed`); after a notification overflow, and on the
 * periodic resync timer (`timer/fired` resync), a fresh full dump.
 *
 * The watch is subscribed before each dump, and notifications that arrive during the
 * dump are delivered after it: a notification describes the kernel's state after the
 * change, so replaying it after the dump converges on the truth whichever side of the
 * dump it fell.
 */
import type { Dataplane, DumpScope, EventBody, KernelChange, KernelSnapshot } from "@kroute/core";
import { asyncScheduler, Observable, type SchedulerLike } from "rxjs";

export type ResyncReason = "start" | "periodic" | "overflow";

export interface KernelSourceOptions {
  readonly node: string;
  readonly scope: DumpScope;
  readonly resyncIntervalMs: number;
  /** A dump taken already (the runtime dumps before starting, to adopt the kernel first). */
  readonly initial?: KernelSnapshot;
  readonly scheduler?: SchedulerLike;
  onResync?(reason: ResyncReason): void;
  /** A dump failed: reported, and retried at the next resync or overflow. */
  onError?(error: unknown): void;
}

export function kernelSource(dataplane: Dataplane, options: KernelSourceOptions): Observable<EventBody> {
  const { node } = options;
  const scheduler = options.scheduler ?? asyncScheduler;
  return new Observable<EventBody>((subscriber) => {
    let dumping = false;
    let dumpAgain: ResyncReason | undefined;
    let held: KernelChange[] = [];
    let closed = false;

    const emitChange = (change: KernelChange) => subscriber.next({ type: "kernel/changed", node, change });

    const finishDump = () => {
      const pending = held;
      held = [];
      dumping = false;
      for (const change of pending) emitChange(change);
      if (dumpAgain !== undefined) {
        const reason = dumpAgain;
        dumpAgain = undefined;
        dump(reason);
      }
    };

    const dump = (reason: ResyncReason, ready?: KernelSnapshot) => {
      if (closed) return;
      if (dumping) {
        dumpAgain = reason;
        return;
      }
      options.onResync?.(reason);
      if (ready !== undefined) {
        // Synchronously: the first event after agent/configured is the kernel as it is.
        subscriber.next({ type: "kernel/observed", node, snapshot: ready });
        return;
      }
      dumping = true;
      dataplane.list(options.scope).then(
        (s) => {
          if (closed) return;
          subscriber.next({ type: "kernel/observed", node, snapshot: s });
          finishDump();
        },
        (error: unknown) => {
          if (closed) return;
          options.onError?.(error);
          finishDump();
        },
      );
    };

    const watch = dataplane.watch().subscribe({
      next(change) {
        if (change.kind === "overflow") {
          emitChange(change);
          dump("overflow");
          return;
        }
        if (dumping) held.push(change);
        else emitChange(change);
      },
      error(error: unknown) {
        subscriber.error(error);
      },
    });

    const periodic = scheduler.schedule(function tick() {
      subscriber.next({ type: "timer/fired", node, timer: "resync" });
      dump("periodic");
      this.schedule(undefined, options.resyncIntervalMs);
    }, options.resyncIntervalMs);

    dump("start", options.initial);

    return () => {
      closed = true;
      watch.unsubscribe();
      periodic.unsubscribe();
    };
  });
}
