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
 * New nodes are frozen here so immer's auto-freeze skips them instead of walking them.
 */

/** Nesting depth: 16^4 = 65,536 leaves, a handful of keys per leaf at 100,000 keys. */
const DEPTH = 4;

type Node = Readonly<Record<string, unknown>>;

export interface HashMap<V> {
  readonly size: number;
  readonly root: Node;
  /** Phantom: carries the value type, never set. */
  readonly _value?: V;
}

const EMPTY: HashMap<never> = Object.freeze({ size: 0, root: Object.freeze({}) });

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

function slots(key: string): string[] {
  const hash = fnv1a(key);
  const path: string[] = [];
  for (let level = 0; level < DEPTH; level++) path.push(((hash >>> (level * 4)) & 15).toString(16));
  return path;
}

function leafOf(map: HashMap<unknown>, key: string): Node | undefined {
  let node: Node | undefined = map.root;
  for (const slot of slots(key)) {
    node = node[slot] as Node | undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

export function hmGet<V>(map: HashMap<V>, key: string): V | undefined {
  const leaf = leafOf(map, key);
  return leaf !== undefined && Object.hasOwn(leaf, key) ? (leaf[key] as V) : undefined;
}

export function hmHas<V>(map: HashMap<V>, key: string): boolean {
  const leaf = leafOf(map, key);
  return leaf !== undefined && Object.hasOwn(leaf, key);
}

/** Returns a new map with key set to value (the same map when nothing changes). */
export function hmSet<V>(map: HashMap<V>, key: string, value: V): HashMap<V> {
  const path = slots(key);
  const nodes: Node[] = [map.root];
  for (const slot of path) nodes.push(((nodes[nodes.length - 1] as Node)[slot] as Node | undefined) ?? {});
  const leaf = nodes[DEPTH] as Node;
  const existed = Object.hasOwn(leaf, key);
  if (existed && leaf[key] === value) return map;
  let child: Node = Object.freeze({ ...leaf, [key]: value });
  for (let level = DEPTH - 1; level >= 0; level--) {
    child = Object.freeze({ ...(nodes[level] as Node), [path[level] as string]: child });
  }
  return Object.freeze({ size: existed ? map.size : map.size + 1, root: child });
}

/** Returns a new map without key (the same map when it was absent); empty nodes are dropped. */
export function hmDelete<V>(map: HashMap<V>, key: string): HashMap<V> {
  const path = slots(key);
  const nodes: Node[] = [map.root];
  for (const slot of path) {
    const next = (nodes[nodes.length - 1] as Node)[slot] as Node | undefined;
    if (next === undefined) return map;
    nodes.push(next);
  }
  const leaf = nodes[DEPTH] as Node;
  if (!Object.hasOwn(leaf, key)) return map;
  let child: Node | undefined = withoutKey(leaf, key);
  for (let level = DEPTH - 1; level >= 0; level--) {
    const slot = path[level] as string;
    const parent = nodes[level] as Node;
    child = child === undefined ? withoutKey(parent, slot) : Object.freeze({ ...parent, [slot]: child });
  }
  return Object.freeze({ size: map.size - 1, root: child ?? Object.freeze({}) });
}

function withoutKey(node: Node, key: string): Node | undefined {
  const copy: Record<string, unknown> = { ...node };
  delete copy[key];
  for (const _ in copy) return Object.freeze(copy);
  return undefined;
}

/** Sets or deletes: `undefined` deletes. */
export function hmPut<V>(map: HashMap<V>, key: string, value: V | undefined): HashMap<V> {
  return value === undefined ? hmDelete(map, key) : hmSet(map, key, value);
}

/** Every entry, in an order fixed by the hash (callers sort when order matters). */
export function* hmEntries<V>(map: HashMap<V>): Generator<[string, V]> {
  function* walk(node: Node, level: number): Generator<[string, V]> {
    for (const slot in node) {
      if (level === DEPTH) yield [slot, node[slot] as V];
      else yield* walk(node[slot] as Node, level + 1);
    }
  }
  yield* walk(map.root, 0);
}

export function* hmValues<V>(map: HashMap<V>): Generator<V> {
  for (const [, value] of hmEntries(map)) yield value;
}

export function* hmKeys<V>(map: HashMap<V>): Generator<string> {
  for (const [key] of hmEntries(map)) yield key;
}

export function hmFromEntries<V>(entries: Iterable<readonly [string, V]>): HashMap<V> {
  let map = emptyHashMap<V>();
  for (const [key, value] of entries) map = hmSet(map, key, value);
  return map;
}
