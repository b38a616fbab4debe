import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emptyHashMap, fnv1a, hmDelete, hmEntries, hmFromEntries, hmGet, hmSet } from "../src/hashmap.ts";
import { allocateId, releaseId } from "../src/nexthop-ids.ts";
import type { NexthopIds } from "../src/state.ts";

const range = { nexthopIdBase: 1000, nexthopIdCount: 8 };
const empty: NexthopIds = { byKey: emptyHashMap(), byId: emptyHashMap() };

function layout(ids: NexthopIds): Record<string, number> {
  return Object.fromEntries([...hmEntries(ids.byKey)].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The reference: linear probing with the keys inserted in sorted order into an empty table. */
function sortedInsertion(keys: readonly string[]): Record<string, number> {
  const taken = new Set<number>();
  const result: Record<string, number> = {};
  for (const key of [...keys].sort()) {
    for (let n = 0; n < range.nexthopIdCount; n++) {
      const slot = ((fnv1a(key) % range.nexthopIdCount) + n) % range.nexthopIdCount;
      if (taken.has(slot)) continue;
      taken.add(slot);
      result[key] = range.nexthopIdBase + slot;
      break;
    }
  }
  return Object.fromEntries(Object.entries(result).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe("nexthop ids", () => {
  it("ids are the home slot when there is no collision, inside the owned range", () => {
    const { ids } = allocateId(empty, "gw|10.0.0.1|eth0", range);
    const id = hmGet(ids.byKey, "gw|10.0.0.1|eth0");
    expect(id).toBe(range.nexthopIdBase + (fnv1a("gw|10.0.0.1|eth0") % range.nexthopIdCount));
  });

  it("whatever the order of allocations and releases, the layout is sorted insertion of the live keys", () => {
    const keys = fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `key-${i}`));
    const action = fc.record({ add: fc.boolean(), key: keys });
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), (actions) => {
        let ids = empty;
        const live = new Set<string>();
        for (const { add, key } of actions) {
          if (add && live.size >= range.nexthopIdCount) continue;
          ids = (add ? allocateId(ids, key, range) : releaseId(ids, key, range)).ids;
          if (add) live.add(key);
          else live.delete(key);
        }
        expect(layout(ids)).toEqual(sortedInsertion([...live]));
        for (const [key, id] of hmEntries(ids.byKey)) expect(hmGet(ids.byId, String(id))).toBe(key);
        expect(ids.byId.size).toBe(live.size);
      }),
    );
  });

  it("reports the ids that moved", () => {
    let ids = empty;
    const moves = [];
    for (const key of ["k1", "k2", "k3", "k4", "k5", "k6"]) {
      const result = allocateId(ids, key, range);
      ids = result.ids;
      moves.push(...result.moves);
    }
    for (const move of moves)
      if (move.to !== undefined) expect(hmGet(ids.byKey, move.key) !== undefined).toBe(true);
    expect(moves.filter((m) => m.from === undefined)).toHaveLength(6);
  });
});

describe("hash trie map", () => {
  it("behaves as a Map under any sequence of sets and deletes, and never changes old versions", () => {
    const op = fc.record({ set: fc.boolean(), key: fc.string({ maxLength: 4 }), value: fc.integer() });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        let map = emptyHashMap<number>();
        const model = new Map<string, number>();
        const versions: [typeof map, Map<string, number>][] = [];
        for (const { set, key, value } of ops) {
          map = set ? hmSet(map, key, value) : hmDelete(map, key);
          if (set) model.set(key, value);
          else model.delete(key);
          versions.push([map, new Map(model)]);
        }
        for (const [version, expected] of versions) {
          expect(version.size).toBe(expected.size);
          expect(new Map(hmEntries(version))).toEqual(expected);
        }
        expect(hmFromEntries(model.entries()).size).toBe(model.size);
      }),
    );
  });

  it("round-trips through JSON", () => {
    const map = hmFromEntries([
      ["a", 1],
      ["1796277415", 2],
    ]);
    const copy = JSON.parse(JSON.stringify(map)) as typeof map;
    expect(hmGet(copy, "a")).toBe(1);
    expect(hmGet(copy, "1796277415")).toBe(2);
    expect(hmGet(copy, "b")).toBeUndefined();
  });
});
