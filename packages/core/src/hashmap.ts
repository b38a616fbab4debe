/**
 * A persistent (immutable, path-copying) string-keyed map stored as plain nested
 * arrays, so state stays serialisable and immer can hold it.
 *
 * Why not a plain Record: immer copies an object whole on its first write, so one
 * update to a 100,000-key record costs 100,000 property copies. Here keys are spread
 * over a trie of 16-way nodes by their FNV-1a hash; an update copies one path (a few
 * small nodes and a leaf), whatever the size of the map. This is what keeps one Route
 * update proportional to that Route (see scripts/bench/core-scale.ts).
 *
 * The trie is only as deep as its keys need: a subtree of at most LEAF_KEYS keys is one
 * flat leaf. A fixed depth of 4 cost a 16-slot node per key in maps of a few thousand
 * keys (about 400 bytes a key, most of a simulated node's memory in
 * scripts/bench/sim-scale.ts); this costs a few dozen. The shape is a function of the
 * key set alone (a node splits above LEAF_KEYS and collapses back at or below it, leaves
 * are sorted by key), so the iteration order never depends on the order of updates.
 *
 * Nodes are arrays (copied with slice, the fastest copy V8 has) and are not frozen:
 * freezing each copied path made an update four times slower (measured with
 * scripts/bench/core-scale.ts), so the reducer runs immer without auto-freeze.
 */

/** Keys a leaf holds before it splits into a 16-way node. */
const LEAF_KEYS = 8;
const FANOUT = 16;
/** 4 hash bits per level: below 8 levels the 32-bit hash is used up, so leaves there never split. */
const MAX_LEVEL = 8;

/**
 * Interior nodes: arrays of exactly 16 children (null = empty), never a string first.
 * Leaves: flat [key, value, key, value…] sorted by key.
 */
type Node = readonly unknown[];

export interface HashMap<V> {
  readonly size: number;
  readonly root: Node;
  /** Phantom: carries the value type, never set. */
  readonly _value?: V;
}

const EMPTY: HashMap<never> = { size: 0, root: [] };

export function emptyHashMap<V>(): HashMap<V> {
  return EMPTY;
}

/** 32-bit FNV-1a over UTF-16 code units: tiny, fast, and stable across runs and machines. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function slot(hash: number, level: number): number {
  return (hash >>> (level * 4)) & (FANOUT - 1);
}

function isInterior(node: Node): boolean {
  return node.length === FANOUT && typeof node[0] !== "string";
}

function leafOf(map: HashMap<unknown>, key: string): Node | undefined {
  let node: Node = map.root;
  if (!isInterior(node)) return node;
  const hash = fnv1a(key);
  for (let level = 0; ; level++) {
    const child = node[slot(hash, level)] as Node | null;
    if (child === null) return undefined;
    if (!isInterior(child)) return child;
    node = child;
  }
}

function indexIn(leaf: Node, key: string): number {
  for (let i = 0; i < leaf.length; i += 2) if (leaf[i] === key) return i;
  return -1;
}

export function hmGet<V>(map: HashMap<V>, key: string): V | undefined {
  const leaf = leafOf(map, key);
  if (leaf === undefined) return undefined;
  const i = indexIn(leaf, key);
  return i < 0 ? undefined : (leaf[i + 1] as V);
}

export function hmHas<V>(map: HashMap<V>, key: string): boolean {
  const leaf = leafOf(map, key);
  return leaf !== undefined && indexIn(leaf, key) >= 0;
}

/**
 * Arrays are built at their final length: growing one (push, splice) leaves V8's spare
 * capacity behind, which in small leaves doubled the memory of a map.
 */
function exactCopy(leaf: Node, skip: number, insertAt: number, key?: string, value?: unknown): unknown[] {
  const inserted = key === undefined ? 0 : 2;
  const copy = new Array(leaf.length - (skip < 0 ? 0 : 2) + inserted);
  let to = 0;
  for (let from = 0; from <= leaf.length; from += 2) {
    if (from === insertAt && key !== undefined) {
      copy[to++] = key;
      copy[to++] = value;
    }
    if (from === leaf.length) break;
    if (from === skip) continue;
    copy[to++] = leaf[from];
    copy[to++] = leaf[from + 1];
  }
  return copy;
}

/** A node for sorted leaf entries at `level`: the leaf itself, or 16-way nodes when they are too many. */
function nodeOf(entries: readonly unknown[], level: number): Node {
  if (entries.length <= 2 * LEAF_KEYS || level >= MAX_LEVEL) return entries;
  const slots = new Array<number>(entries.length / 2);
  const counts = new Array<number>(FANOUT).fill(0);
  for (let i = 0; i < entries.length; i += 2) {
    const at = slot(fnv1a(entries[i] as string), level);
    slots[i / 2] = at;
    counts[at] = (counts[at] as number) + 2;
  }
  const node: unknown[] = new Array(FANOUT).fill(null);
  for (let at = 0; at < FANOUT; at++) {
    if (counts[at] === 0) continue;
    const group = new Array(counts[at] as number);
    let to = 0;
    for (let i = 0; i < entries.length; i += 2) {
      if (slots[i / 2] !== at) continue;
      group[to++] = entries[i];
      group[to++] = entries[i + 1];
    }
    node[at] = nodeOf(group, level + 1);
  }
  return node;
}

/** A leaf with key set to value, kept sorted (the same leaf when nothing changes). */
function leafWith(leaf: Node, key: string, value: unknown): { leaf: Node; added: boolean } {
  let i = 0;
  while (i < leaf.length && (leaf[i] as string) < key) i += 2;
  if (leaf[i] === key) {
    if (leaf[i + 1] === value) return { leaf, added: false };
    const copy = leaf.slice();
    copy[i + 1] = value;
    return { leaf: copy, added: false };
  }
  return { leaf: exactCopy(leaf, -1, i, key, value), added: true };
}

/** The interior node's keys as one sorted leaf, when they are few enough to be one (else undefined). */
function collapsed(node: Node): Node | undefined {
  let count = 0;
  for (const child of node) {
    if (child === null) continue;
    if (isInterior(child as Node)) return undefined;
    count += (child as Node).length;
  }
  if (count > 2 * LEAF_KEYS) return undefined;
  const pairs: [string, unknown][] = [];
  for (const child of node) {
    const leaf = child as Node | null;
    for (let i = 0; leaf !== null && i < leaf.length; i += 2) pairs.push([leaf[i] as string, leaf[i + 1]]);
  }
  pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const leaf = new Array(count);
  pairs.forEach(([key, value], i) => {
    leaf[2 * i] = key;
    leaf[2 * i + 1] = value;
  });
  return leaf;
}

/** Returns a new map with key set to value (the same map when nothing changes). */
export function hmSet<V>(map: HashMap<V>, key: string, value: V): HashMap<V> {
  const hash = fnv1a(key);
  let added = false;
  const set = (node: Node, level: number): Node => {
    if (!isInterior(node)) {
      const result = leafWith(node, key, value);
      added = result.added;
      return result.leaf === node ? node : nodeOf(result.leaf, level);
    }
    const at = slot(hash, level);
    const child = node[at] as Node | null;
    const next = set(child ?? [], level + 1);
    if (next === child) return node;
    const copy = node.slice();
    copy[at] = next;
    return copy;
  };
  const root = set(map.root, 0);
  return root === map.root ? map : { size: added ? map.size + 1 : map.size, root };
}

/** Returns a new map without key (the same map when it was absent); nodes collapse back into leaves. */
export function hmDelete<V>(map: HashMap<V>, key: string): HashMap<V> {
  const hash = fnv1a(key);
  const remove = (node: Node, level: number): Node | null => {
    if (!isInterior(node)) {
      const i = indexIn(node, key);
      return i < 0 ? node : exactCopy(node, i, -1);
    }
    const at = slot(hash, level);
    const child = node[at] as Node | null;
    if (child === null) return node;
    const next = remove(child, level + 1);
    if (next === child) return node;
    const copy = node.slice();
    copy[at] = next !== null && next.length === 0 ? null : next;
    return collapsed(copy) ?? copy;
  };
  const root = remove(map.root, 0);
  return root === map.root ? map : { size: map.size - 1, root: root ?? [] };
}

/** Sets or deletes: `undefined` deletes. */
export function hmPut<V>(map: HashMap<V>, key: string, value: V | undefined): HashMap<V> {
  return value === undefined ? hmDelete(map, key) : hmSet(map, key, value);
}

/** Every entry, in an order fixed by the keys and their hashes (callers sort when order matters). */
export function hmEntries<V>(map: HashMap<V>): [string, V][] {
  const out: [string, V][] = [];
  const walk = (node: Node): void => {
    if (!isInterior(node)) {
      for (let i = 0; i < node.length; i += 2) out.push([node[i] as string, node[i + 1] as V]);
      return;
    }
    for (const child of node) if (child !== null) walk(child as Node);
  };
  walk(map.root);
  return out;
}

/** Calls `visit` for every entry, in hmEntries order, without building the list. */
export function hmForEach<V>(map: HashMap<V>, visit: (value: V, key: string) => void): void {
  const walk = (node: Node): void => {
    if (!isInterior(node)) {
      for (let i = 0; i < node.length; i += 2) visit(node[i + 1] as V, node[i] as string);
      return;
    }
    for (const child of node) if (child !== null) walk(child as Node);
  };
  walk(map.root);
}

export function hmValues<V>(map: HashMap<V>): V[] {
  return hmEntries(map).map(([, value]) => value);
}

export function hmKeys<V>(map: HashMap<V>): string[] {
  return hmEntries(map).map(([key]) => key);
}

export function hmFromEntries<V>(entries: Iterable<readonly [string, V]>): HashMap<V> {
  let map = emptyHashMap<V>();
  for (const [key, value] of entries) map = hmSet(map, key, value);
  return map;
}
