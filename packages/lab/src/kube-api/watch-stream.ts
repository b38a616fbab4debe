/**
 * One open watch connection: JSON lines of {type, object}, filtered by resource,
 * namespace and selectors, with selector transitions turned into ADDED / DELETED as
 * the API server's watch cache does.
 */
import type { ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { Change } from "./change-history.ts";
import type { JsonObject } from "./json.ts";
import type { Selector } from "./selectors.ts";

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

export interface WatchFilter {
  readonly resource: string;
  /** Absent: every namespace (or a cluster-scoped type). */
  readonly namespace?: string;
  readonly matches: Selector;
}

function namespaceOf(obj: JsonObject): string {
  const metadata = obj.metadata as { namespace?: unknown } | undefined;
  return typeof metadata?.namespace === "string" ? metadata.namespace : "";
}

export class WatchStream {
  readonly #res: ServerResponse;
  readonly #filter: WatchFilter;
  /** How late each event leaves (the slow-watch fault), read as it is sent; 0 normally. */
  readonly #delayMs: () => number;
  #stalled = false;
  #closed = false;
  readonly #onClose: (() => void)[] = [];
  #bookmark: (() => void) | undefined;
  /** Writes held back by a delay, chained so that they leave in order. */
  #held = 0;
  #heldTail: Promise<void> = Promise.resolve();

  constructor(res: ServerResponse, filter: WatchFilter, delayMs: () => number = () => 0) {
    this.#res = res;
    this.#filter = filter;
    this.#delayMs = delayMs;
    res.on("close", () => this.#cleanup());
  }

  get stalled(): boolean {
    return this.#stalled;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Keep the connection open but never send anything on it again. */
  stall(): void {
    this.#stalled = true;
  }

  /** How to bookmark this watch now; unset when the client did not allow bookmarks. */
  setBookmarker(fn: () => void): void {
    this.#bookmark = fn;
  }

  bookmark(): void {
    this.#bookmark?.();
  }

  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  send(type: WatchEventType, object: JsonObject): void {
    if (this.#stalled || this.#closed) return;
    const line = `${JSON.stringify({ type, object })}\n`;
    this.#afterHeld(this.#delayMs(), () => {
      if (!this.#stalled && !this.#closed) this.#res.write(line);
    });
  }

  /**
   * Runs `write` now, or `delayMs` from now and never before what is already held back
   * (a delay lifted while events wait must not let a later one overtake them).
   */
  #afterHeld(delayMs: number, write: () => void): void {
    if (delayMs <= 0 && this.#held === 0) {
      write();
      return;
    }
    const due = Date.now() + Math.max(0, delayMs);
    this.#held++;
    this.#heldTail = this.#heldTail.then(async () => {
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      this.#held--;
      write();
    });
  }

  /** Forward a store change if this watch sees it, as what this watch sees it as. */
  deliver(change: Change): void {
    if (change.resource !== this.#filter.resource) return;
    const ns = this.#filter.namespace;
    if (ns !== undefined && namespaceOf(change.object) !== ns) return;
    const now = change.type !== "DELETED" && this.#filter.matches(change.object);
    const before = change.previous !== undefined && this.#filter.matches(change.previous);
    if (change.type === "DELETED") {
      if (before) this.send("DELETED", change.object);
      return;
    }
    if (now && before) this.send("MODIFIED", change.object);
    else if (now) this.send("ADDED", change.object);
    else if (before) {
      // Left the selector: the previous state, stamped with this change's resourceVersion.
      const prev = change.previous!;
      const metadata = { ...(prev.metadata as JsonObject), resourceVersion: String(change.rv) };
      this.send("DELETED", { ...prev, metadata });
    }
  }

  /** Finish the response cleanly (the client sees the stream end), after any events held back. */
  end(): void {
    this.#afterHeld(0, () => {
      if (!this.#closed) this.#res.end();
    });
  }

  /** Cut the connection without finishing the chunked response (the client sees an error). */
  destroy(): void {
    if (!this.#closed) this.#res.destroy();
  }

  #cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const fn of this.#onClose.splice(0)) fn();
  }
}
