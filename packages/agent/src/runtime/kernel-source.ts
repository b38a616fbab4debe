/**
 * The kernel as an event source: a full dump (`kernel/observed`) first, then every
 * change notification (`kernel/changed`); after a notification overflow, and on the
 * periodic resync timer (`timer/fired` resync), a fresh full dump.
 *
 * The watch is subscribed before each dump, and notifications that arrive during the
 * dump are delivered after it: a notification describes the kernel's state after the
 * change, so replaying it after the dump converges on the truth whichever side of the
 * dump it fell.
 *
 * A dump that comes back incomplete (the kernel interrupted it) or fails is taken
 * again shortly, backing off to the resync interval: until a complete one arrives the
 * engine deletes nothing, so waiting for the periodic resync would hold back every
 * prune and every Route deletion for up to that long.
 */
import type { Dataplane, DumpScope, EventBody, KernelChange, KernelSnapshot } from "@kroute/core";
import { asyncScheduler, Observable, type SchedulerLike, type Subscription } from "rxjs";

export type ResyncReason = "start" | "periodic" | "overflow" | "retry";

/** First wait before dumping again after an incomplete or failed dump; doubled each time after. */
const RETRY_FIRST_MS = 500;

export interface KernelSourceOptions {
  readonly node: string;
  readonly scope: DumpScope;
  readonly resyncIntervalMs: number;
  /** A dump taken already (the runtime dumps before starting, to adopt the kernel first). */
  readonly initial?: KernelSnapshot;
  /**
   * The kernel's notifications, followed since before `initial` was taken (see
   * changes-from-now.ts), so that none made after that dump is lost. Default: the
   * dataplane's, from when the source starts.
   */
  readonly changes?: Observable<KernelChange>;
  readonly scheduler?: SchedulerLike;
  onResync?(reason: ResyncReason): void;
  /** A dump failed: reported, and retried shortly (backing off to the resync interval). */
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
    let retry: Subscription | undefined;
    let retries = 0;

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

    const retryLater = () => {
      if (retry !== undefined) return;
      const delay = Math.min(options.resyncIntervalMs, RETRY_FIRST_MS * 2 ** Math.min(retries, 20));
      retries += 1;
      retry = scheduler.schedule(() => {
        retry = undefined;
        dump("retry");
      }, delay);
    };

    const observed = (snapshot: KernelSnapshot) => {
      subscriber.next({ type: "kernel/observed", node, snapshot });
      if (snapshot.complete) retries = 0;
      else retryLater();
    };

    const dump = (reason: ResyncReason) => {
      if (closed) return;
      if (dumping) {
        dumpAgain = reason;
        return;
      }
      options.onResync?.(reason);
      dumping = true;
      dataplane.list(options.scope).then(
        (s) => {
          if (closed) return;
          observed(s);
          finishDump();
        },
        (error: unknown) => {
          if (closed) return;
          options.onError?.(error);
          retryLater();
          finishDump();
        },
      );
    };

    // A dump taken before the source started is treated as one in progress: the changes
    // since it (`changes` kept them) are held, and follow it.
    const start = options.initial;
    dumping = start !== undefined;
    const watch = (options.changes ?? dataplane.watch()).subscribe({
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

    if (start === undefined) dump("start");
    else {
      // Synchronously: the first event after agent/configured is the kernel as it is.
      options.onResync?.("start");
      observed(start);
      finishDump();
    }

    return () => {
      closed = true;
      watch.unsubscribe();
      periodic.unsubscribe();
      retry?.unsubscribe();
    };
  });
}
