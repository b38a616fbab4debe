/**
 * The double's etcd revision: one global resourceVersion counter and a bounded history
 * of committed changes that watches replay from. Changes that fall out of the history
 * are compacted, so a watch resuming before them gets 410 Gone.
 */
import type { JsonObject } from "./json.ts";

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change; `previous` lets filtered watches see objects entering or leaving their selector. */
export interface Change {
  readonly rv: number;
  readonly type: ChangeType;
  readonly resource: string;
  readonly object: JsonObject;
  readonly previous?: JsonObject;
}

export class ChangeHistory {
  #rv = 0;
  #compactedRv = 0;
  #changes: Change[] = [];
  #limit: number;
  readonly #listeners = new Set<(change: Change) => void>();

  constructor(limit: number) {
    this.#limit = limit;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** Changes at or below this resourceVersion are no longer available to watches. */
  get compactedRv(): number {
    return this.#compactedRv;
  }

  setLimit(limit: number): void {
    this.#limit = limit;
    this.#trim();
  }

  /** Forget all history: every watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#changes = [];
  }

  /** Changes after `rv`, or "expired" when some of them were compacted away. */
  since(rv: number): Change[] | "expired" {
    if (rv < this.#compactedRv) return "expired";
    return this.#changes.filter((c) => c.rv > rv);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Take the resourceVersion for a write about to be recorded. */
  nextRv(): number {
    return ++this.#rv;
  }

  record(change: Change): void {
    this.#changes.push(change);
    this.#trim();
    for (const listener of this.#listeners) listener(change);
  }

  #trim(): void {
    const excess = this.#changes.length - this.#limit;
    if (excess <= 0) return;
    const dropped = this.#changes.splice(0, excess);
    this.#compactedRv = dropped[dropped.length - 1]!.rv;
  }
}
