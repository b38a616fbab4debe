/**
 * A persistent (immutable, path-copying) string-keyed map stored as plain nested
 * records, so state stays serialisable and immer can hold it.
 *
 * Why not a plain Record: immer copies an object whole on its first write, so one
 * update to a 100,000-key record costs 100,000 property copies. Here keys are spread
 * over a fixed-depth trie of 16-way nodes by their FNV-1a hash; an update copies one
 * path (4 small nodes and a leaf), whatever the size of the map. This is what keeps
 * one Route update proportional to that Route (see scripts/bench/core-scale.ts).
 *
 * Nodes are arrays (copied with slice, the fastest copy V8 has) and are not frozen:
 * freezing each copied path made an update four times slower (measured with
 * scripts/bench/core-scale.ts), so the reducer runs immer without auto-freeze.
 */

/** Nesting depth: 16^4 = 65,536 leaves, a handful of keys per leaf at 100,000 keys. */
const DEPTH = 4;
const FANOUT = 16;

/** Interior nodes: arrays of 16 children (null = empty). Leaves: flat [key, value, key, value…]. */
type Node = readonly unknown[];

export interface HashMap<V> {
  readonly size: number;
  readonly root: Node;
  /** Phantom: carries the value type, never set. */
  readonly _value?: V;
}

const EMPTY_INTERIOR: Node = new Array(FANOUT).fill(null);
const EMPTY: HashMap<never> = { size: 0, root: EMPTY_INTERIOR };

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

function leafOf(map: HashMap<unknown>, key: string): Node | undefined {
  const hash = fnv1a(key);
  let node: Node | null | undefined = map.root;
  for (let level = 0; level < DEPTH && node !== null && node !== undefined; level++) {
    node = node[slot(hash, level)] as Node | null | undefined;
  }
  return node ?? undefined;
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

function pathTo(map: HashMap<unknown>, hash: number): Node[] {
  const nodes: Node[] = [map.root];
  for (let level = 0; level < DEPTH; level++) {
    const next = (nodes[level] as Node)[slot(hash, level)] as Node | null;
    nodes.push(next ?? (level === DEPTH - 1 ? [] : EMPTY_INTERIOR));
  }
  return nodes;
}

/** Copies the path above a new leaf (undefined: the leaf became empty). */
function rebuildPath(nodes: readonly Node[], hash: number, leaf: Node | undefined): Node {
  let child: Node | null = leaf === undefined || leaf.length === 0 ? null : leaf;
  for (let level = DEPTH - 1; level >= 0; level--) {
    const copy = (nodes[level] as Node).slice();
    copy[slot(hash, level)] = child;
    child = level > 0 && child === null && copy.every((c) => c === null) ? null : copy;
  }
  return child ?? EMPTY_INTERIOR;
}

/** Returns a new map with key set to value (the same map when nothing changes). */
export function hmSet<V>(map: HashMap<V>, key: string, value: V): HashMap<V> {
  const hash = fnv1a(key);
  const nodes = pathTo(map, hash);
  const leaf = nodes[DEPTH] as Node;
  const i = indexIn(leaf, key);
  if (i >= 0 && leaf[i + 1] === value) return map;
  const copy = leaf.slice();
  if (i >= 0) copy[i + 1] = value;
  else copy.push(key, value);
  return { size: i >= 0 ? map.size : map.size + 1, root: rebuildPath(nodes, hash, copy) };
}

/** Returns a new map without key (the same map when it was absent); empty nodes are dropped. */
export function hmDelete<V>(map: HashMap<V>, key: string): HashMap<V> {
  const hash = fnv1a(key);
  const nodes = pathTo(map, hash);
  const leaf = nodes[DEPTH] as Node;
  const i = indexIn(leaf, key);
  if (i < 0) return map;
  const copy = leaf.slice();
  copy.splice(i, 2);
  return { size: map.size - 1, root: rebuildPath(nodes, hash, copy) };
}

/** Sets or deletes: `undefined` deletes. */
export function hmPut<V>(map: HashMap<V>, key: string, value: V | undefined): HashMap<V> {
  return value === undefined ? hmDelete(map, key) : hmSet(map, key, value);
}

/** Every entry, in an order fixed by the hash (callers sort when order matters). */
export function hmEntries<V>(map: HashMap<V>): [string, V][] {
  const out: [string, V][] = [];
  const walk = (node: Node, level: number): void => {
    if (level === DEPTH) {
      for (let i = 0; i < node.length; i += 2) out.push([node[i] as string, node[i + 1] as V]);
      return;
    }
    for (let i = 0; i < node.length; i++) {
      const child = node[i];
      if (child !== null && child !== undefined) walk(child as Node, level + 1);
    }
  };
  if (map.size > 0) walk(map.root, 0);
  return out;
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
