/**
 * Nexthop object ids: deterministic and stable across restarts, so an agent that
 * restarts adopts its own objects instead of recreating them.
 *
 * An object's id is its home slot, FNV-1a of its identity key modulo the owned range,
 * with linear probing on collision. The layout is always the one that inserting the
 * live keys in sorted order would give, whatever order they arrived in: on a collision
 * (or a removal inside a run) the whole contiguous run of occupied slots is laid out
 * again from its keys in sorted order. Runs are short, so this stays cheap.
 */
import { fnv1a, hmDelete, hmGet, hmSet } from "./hashmap.ts";
import type { EngineSettings } from "./settings.ts";
import type { NexthopIds } from "./state.ts";

type Range = Pick<EngineSettings, "nexthopIdBase" | "nexthopIdCount">;

/** An object whose id changed; absent `from` = newly placed, absent `to` = released or unplaceable. */
export interface IdMove {
  readonly key: string;
  readonly from?: number;
  readonly to?: number;
}

function homeSlot(key: string, range: Range): number {
  return fnv1a(key) % range.nexthopIdCount;
}

function keyAt(ids: NexthopIds, slot: number, range: Range): string | undefined {
  return hmGet(ids.byId, String(range.nexthopIdBase + slot));
}

/** Slots of the maximal occupied run containing `slot` (empty when `slot` is free). */
function runAround(ids: NexthopIds, slot: number, range: Range): number[] {
  const count = range.nexthopIdCount;
  if (keyAt(ids, slot, range) === undefined) return [];
  let start = slot;
  for (let n = 0; n < count && keyAt(ids, (start - 1 + count) % count, range) !== undefined; n++) {
    start = (start - 1 + count) % count;
  }
  const run: number[] = [];
  for (let s = start, n = 0; n < count && keyAt(ids, s, range) !== undefined; n++, s = (s + 1) % count) {
    run.push(s);
  }
  return run;
}

function clearSlots(ids: NexthopIds, slots: readonly number[], range: Range): NexthopIds {
  let { byKey, byId } = ids;
  for (const slot of slots) {
    const id = String(range.nexthopIdBase + slot);
    const key = hmGet(byId, id);
    if (key === undefined) continue;
    byId = hmDelete(byId, id);
    byKey = hmDelete(byKey, key);
  }
  return { byKey, byId };
}

/** Linear-probes each key in sorted order; keys that find no free slot are left out. */
function place(ids: NexthopIds, keys: readonly string[], range: Range): NexthopIds {
  let { byKey, byId } = ids;
  for (const key of [...keys].sort()) {
    const home = homeSlot(key, range);
    for (let n = 0; n < range.nexthopIdCount; n++) {
      const id = range.nexthopIdBase + ((home + n) % range.nexthopIdCount);
      if (hmGet(byId, String(id)) !== undefined) continue;
      byId = hmSet(byId, String(id), key);
      byKey = hmSet(byKey, key, id);
      break;
    }
  }
  return { byKey, byId };
}

/**
 * Lays out again the run around `slot` with `keys` (the run's keys plus or minus one),
 * absorbing any run it grows into, until the layout is the sorted-insertion one.
 */
function relayout(
  ids: NexthopIds,
  slot: number,
  add: string | undefined,
  remove: string | undefined,
  range: Range,
) {
  const before = new Map<string, number>();
  let run = runAround(ids, slot, range);
  const keys = new Set<string>();
  if (add !== undefined) keys.add(add);
  let next = ids;
  for (;;) {
    for (const s of run) {
      const key = keyAt(next, s, range);
      if (key !== undefined && key !== remove) keys.add(key);
      const was = key === undefined ? undefined : hmGet(ids.byKey, key);
      if (key !== undefined && was !== undefined) before.set(key, was);
    }
    next = place(clearSlots(next, run, range), [...keys], range);
    // Grew into a neighbouring run? Then that run's keys must be laid out together with ours.
    const grown = runAround(next, slot, range);
    const absorbed = grown.filter((s) => !keys.has(keyAt(next, s, range) ?? ""));
    if (absorbed.length === 0 || grown.length >= range.nexthopIdCount) break;
    run = grown;
  }
  const moves: IdMove[] = [];
  for (const key of new Set([...before.keys(), ...keys])) {
    const from = before.get(key);
    const to = hmGet(next.byKey, key);
    if (from === to) continue;
    moves.push({ key, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
  }
  return { ids: next, moves };
}

/** Gives `key` an id (no-op when it has one). */
export function allocateId(ids: NexthopIds, key: string, range: Range): { ids: NexthopIds; moves: IdMove[] } {
  if (hmGet(ids.byKey, key) !== undefined || range.nexthopIdCount <= 0) return { ids, moves: [] };
  return relayout(ids, homeSlot(key, range), key, undefined, range);
}

/** Frees `key`'s id; keys displaced past it move back toward their home slots. */
export function releaseId(ids: NexthopIds, key: string, range: Range): { ids: NexthopIds; moves: IdMove[] } {
  const id = hmGet(ids.byKey, key);
  if (id === undefined) return { ids, moves: [] };
  return relayout(ids, id - range.nexthopIdBase, undefined, key, range);
}
