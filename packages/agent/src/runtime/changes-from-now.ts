/**
 * The kernel's change notifications from now on, kept for the one subscriber to come.
 * The runtime opens them before its start-up dump and hands them to the kernel source
 * once the engine starts: a change made in between (a route deleted just after the
 * dump) then follows the dump instead of being lost until the next periodic resync.
 */
import type { Dataplane, KernelChange } from "@kroute/core";
import { Observable, type Subscriber } from "rxjs";

export interface ChangesFromNow {
  /** The changes kept so far, then the live ones; one subscriber only. */
  readonly changes: Observable<KernelChange>;
  /** Stops following (the runtime is stopping, whether or not anyone subscribed). */
  close(): void;
}

export function changesFromNow(dataplane: Dataplane): ChangesFromNow {
  const kept: KernelChange[] = [];
  let failure: { readonly error: unknown } | undefined;
  let live: Subscriber<KernelChange> | undefined;
  const upstream = dataplane.watch().subscribe({
    next: (change) => {
      if (live === undefined) kept.push(change);
      else live.next(change);
    },
    error: (error: unknown) => {
      if (live === undefined) failure = { error };
      else live.error(error);
    },
  });
  const changes = new Observable<KernelChange>((subscriber) => {
    if (live !== undefined) {
      subscriber.error(new Error("changesFromNow: the changes have a subscriber already"));
      return;
    }
    for (const change of kept.splice(0)) subscriber.next(change);
    if (failure !== undefined) {
      subscriber.error(failure.error);
      return;
    }
    live = subscriber;
    return () => upstream.unsubscribe();
  });
  return { changes, close: () => upstream.unsubscribe() };
}
