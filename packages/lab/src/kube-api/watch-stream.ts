/**
 * One open watch connection: JSON lines of {type, object}, filtered by resource,
 * namespace and selectors, with selector transitions turned into ADDED / DELETED as
 * the API server's watch cache does.
 */
import type { ServerResponse } from "node:http";
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
  #stalled = false;
  #closed = false;
  readonly #onClose: (() => void)[] = [];
  #bookmark: (() => void) | undefined;

  constructor(res: ServerResponse, filter: WatchFilter) {
    this.#res = res;
    this.#filter = filter;
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
    this.#res.write(`${JSON.stringify({ type, object })}\n`);
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

  /** Finish the response cleanly (the client sees the stream end). */
  end(): void {
    if (!this.#closed) this.#res.end();
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
