/**
 * Nexthop object ids: deterministic and stable across restarts, so an agent that
 * restarts adopts its own objects instead of recreating them.
 *
 * An object's id is its home slot, FNV-1a of its identity key modulo the owned range,
 * with linear probing on collision. Ids another program holds in the range (its
 * nexthops, seen in the kernel) are skipped as if taken. The layout is always the one
 * that inserting the live keys in sorted order, around the others' ids, would give,
 * whatever order keys and others' ids arrived in: the same kernel contents give the
 * same layout, so a restart adopts its own objects. On a collision (or a removal inside
 * a run) the whole contiguous run of occupied slots is laid out again from its keys in
 * sorted order. Runs are short, so this stays cheap.
 */
import { fnv1a, hmDelete, hmGet, hmHas, hmSet } from "./hashmap.ts";
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

function idOf(slot: number, range: Range): string {
  return String(range.nexthopIdBase + slot);
}

function keyAt(ids: NexthopIds, slot: number, range: Range): string | undefined {
  return hmGet(ids.byId, idOf(slot, range));
}

/** Held by one of kroute's keys or by another's nexthop. */
function occupied(ids: NexthopIds, slot: number, range: Range): boolean {
  const id = idOf(slot, range);
  return hmHas(ids.byId, id) || hmHas(ids.others, id);
}

/** Slots of the maximal occupied run containing `slot` (empty when `slot` is free). */
function runAround(ids: NexthopIds, slot: number, range: Range): number[] {
  const count = range.nexthopIdCount;
  if (!occupied(ids, slot, range)) return [];
  let start = slot;
  for (let n = 0; n < count && occupied(ids, (start - 1 + count) % count, range); n++) {
    start = (start - 1 + count) % count;
  }
  const run: number[] = [];
  for (let s = start, n = 0; n < count && occupied(ids, s, range); n++, s = (s + 1) % count) {
    run.push(s);
  }
  return run;
}

function clearSlots(ids: NexthopIds, slots: readonly number[], range: Range): NexthopIds {
  let { byKey, byId } = ids;
  for (const slot of slots) {
    const id = idOf(slot, range);
    const key = hmGet(byId, id);
    if (key === undefined) continue;
    byId = hmDelete(byId, id);
    byKey = hmDelete(byKey, key);
  }
  return { ...ids, byKey, byId };
}

/** Linear-probes each key in sorted order past occupied ids; keys that find no free slot are left out. */
function place(ids: NexthopIds, keys: readonly string[], range: Range): NexthopIds {
  let { byKey, byId } = ids;
  for (const key of [...keys].sort()) {
    const home = homeSlot(key, range);
    for (let n = 0; n < range.nexthopIdCount; n++) {
      const id = idOf((home + n) % range.nexthopIdCount, range);
      if (hmHas(byId, id) || hmHas(ids.others, id)) continue;
      byId = hmSet(byId, id, key);
      byKey = hmSet(byKey, key, Number(id));
      break;
    }
  }
  return { ...ids, byKey, byId };
}

/** What changes at the start of a relayout: a key in or out, an id another takes or gives back. */
interface Change {
  readonly add?: string;
  readonly remove?: string;
  readonly others?: NexthopIds["others"];
}

/**
 * Lays out again the run around `slot` (as occupied before `change`) with its keys plus
 * or minus one, absorbing any run it grows into, until the layout is the sorted-insertion one.
 */
function relayout(ids: NexthopIds, slot: number, change: Change, range: Range) {
  const before = new Map<string, number>();
  let run = runAround(ids, slot, range);
  const keys = new Set<string>();
  if (change.add !== undefined) keys.add(change.add);
  let next: NexthopIds = change.others === undefined ? ids : { ...ids, others: change.others };
  for (;;) {
    for (const s of run) {
      const key = keyAt(next, s, range);
      if (key !== undefined && key !== change.remove) keys.add(key);
      const was = key === undefined ? undefined : hmGet(ids.byKey, key);
      if (key !== undefined && was !== undefined) before.set(key, was);
    }
    next = place(clearSlots(next, run, range), [...keys], range);
    // Grew into a neighbouring run? Then that run's keys must be laid out together with ours.
    const grown = new Set<number>();
    for (const key of keys) {
      const id = hmGet(next.byKey, key);
      if (id !== undefined && !grown.has(id - range.nexthopIdBase))
        for (const s of runAround(next, id - range.nexthopIdBase, range)) grown.add(s);
    }
    const absorbed = [...grown].filter((s) => {
      const key = keyAt(next, s, range);
      return key !== undefined && !keys.has(key);
    });
    if (absorbed.length === 0 || grown.size >= range.nexthopIdCount) break;
    run = [...grown];
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
  return relayout(ids, homeSlot(key, range), { add: key }, range);
}

/** Frees `key`'s id; keys displaced past it move back toward their home slots. */
export function releaseId(ids: NexthopIds, key: string, range: Range): { ids: NexthopIds; moves: IdMove[] } {
  const id = hmGet(ids.byKey, key);
  if (id === undefined) return { ids, moves: [] };
  return relayout(ids, id - range.nexthopIdBase, { remove: key }, range);
}

function inRange(id: number, range: Range): boolean {
  return id >= range.nexthopIdBase && id < range.nexthopIdBase + range.nexthopIdCount;
}

/**
 * Another program's nexthop now holds `id` (under `protocol`): the key there, if any,
 * moves to a free id, with the others of its run as sorted insertion has them.
 */
export function holdForOther(
  ids: NexthopIds,
  id: number,
  protocol: number,
  range: Range,
): { ids: NexthopIds; moves: IdMove[] } {
  if (!inRange(id, range) || hmGet(ids.others, String(id)) === protocol) return { ids, moves: [] };
  return relayout(ids, id - range.nexthopIdBase, { others: hmSet(ids.others, String(id), protocol) }, range);
}

/** Another's nexthop left `id`: keys probed past it move back toward their home slots. */
export function freeFromOther(
  ids: NexthopIds,
  id: number,
  range: Range,
): { ids: NexthopIds; moves: IdMove[] } {
  if (!hmHas(ids.others, String(id))) return { ids, moves: [] };
  return relayout(ids, id - range.nexthopIdBase, { others: hmDelete(ids.others, String(id)) }, range);
}
