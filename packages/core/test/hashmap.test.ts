import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  emptyHashMap,
  type HashMap,
  hmDelete,
  hmEntries,
  hmFromEntries,
  hmGet,
  hmSet,
} from "../src/hashmap.ts";

const keys = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `4|254|100.${i >> 8}.${i & 255}.0/24|50`);

/** Deepest path from the root to a leaf. */
function depth(map: HashMap<unknown>): number {
  const walk = (node: readonly unknown[]): number =>
    node.length === 16 && typeof node[0] !== "string"
      ? 1 + Math.max(...node.map((c) => (c === null ? 0 : walk(c as unknown[]))))
      : 0;
  return walk(map.root);
}

describe("hash trie map shape", () => {
  it("is a function of the key set: any order of sets and deletes gives the same nodes and order", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ maxLength: 6 }), { minLength: 0, maxLength: 120 }),
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 60 }),
        fc.integer(),
        (kept, written, seed) => {
          const transient = written.map((k) => `~${k}`).filter((k) => !kept.includes(k));
          const direct = hmFromEntries(kept.map((k) => [k, 1] as const));
          // Another history: transient keys come and go, kept keys arrive in another order.
          let other = emptyHashMap<number>();
          const shuffled = [...kept].sort(
            (a, b) => ((fnvLike(a) ^ seed) >>> 0) - ((fnvLike(b) ^ seed) >>> 0),
          );
          for (const k of transient) other = hmSet(other, k, 2);
          for (const k of shuffled) other = hmSet(other, k, 1);
          for (const k of transient) other = hmDelete(other, k);
          expect(other.size).toBe(kept.length);
          expect(other.root).toEqual(direct.root);
          expect(hmEntries(other)).toEqual(hmEntries(direct));
        },
      ),
    );
  });

  it("stays shallow and small, and collapses back when keys leave", () => {
    let map = emptyHashMap<number>();
    const all = keys(5000);
    all.forEach((k, i) => {
      map = hmSet(map, k, i);
    });
    expect(map.size).toBe(5000);
    expect(depth(map)).toBeLessThanOrEqual(4);
    for (const [i, k] of all.entries()) expect(hmGet(map, k)).toBe(i);
    for (const k of all.slice(3)) map = hmDelete(map, k);
    expect(map.size).toBe(3);
    expect(depth(map)).toBe(0);
    expect(map.root).toEqual(hmFromEntries(all.slice(0, 3).map((k, i) => [k, i] as const)).root);
  });

  it("returns the same map when a set changes nothing or a delete finds nothing", () => {
    const map = hmFromEntries(keys(100).map((k) => [k, 1] as const));
    expect(hmSet(map, keys(100)[7] as string, 1)).toBe(map);
    expect(hmDelete(map, "absent")).toBe(map);
  });
});

function fnvLike(text: string): number {
  let h = 7;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 31);
  return h >>> 0;
}
