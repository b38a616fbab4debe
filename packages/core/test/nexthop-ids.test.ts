import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emptyHashMap, fnv1a, hmDelete, hmEntries, hmFromEntries, hmGet, hmSet } from "../src/hashmap.ts";
import { allocateId, freeFromOther, holdForOther, releaseId } from "../src/nexthop-ids.ts";
import { emptyNexthopIds, type NexthopIds } from "../src/state.ts";

const range = { nexthopIdBase: 1000, nexthopIdCount: 8 };
const empty: NexthopIds = emptyNexthopIds();

function layout(ids: NexthopIds): Record<string, number> {
  return Object.fromEntries([...hmEntries(ids.byKey)].sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** The reference: linear probing with the keys inserted in sorted order into a table where only others' ids are taken. */
function sortedInsertion(keys: readonly string[], others: readonly number[] = []): Record<string, number> {
  const taken = new Set<number>(others.map((id) => id - range.nexthopIdBase));
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

  it("whatever the order of keys and others' ids coming and going, the layout is sorted insertion around the others' ids", () => {
    const keys = fc.constantFrom(...Array.from({ length: 12 }, (_, i) => `key-${i}`));
    const otherId = fc.integer({ min: 0, max: range.nexthopIdCount - 1 }).map((i) => range.nexthopIdBase + i);
    const action = fc.oneof(
      fc.record({ kind: fc.constantFrom("add" as const, "release" as const), key: keys }),
      fc.record({ kind: fc.constantFrom("hold" as const, "free" as const), id: otherId }),
    );
    fc.assert(
      fc.property(fc.array(action, { maxLength: 40 }), (actions) => {
        let ids = empty;
        const live = new Set<string>();
        const others = new Set<number>();
        for (const a of actions) {
          // Sorted insertion is the layout while every key finds an id (a full range starves some).
          if ((a.kind === "add" || a.kind === "hold") && live.size + others.size >= range.nexthopIdCount)
            continue;
          if ("key" in a && a.kind === "add") {
            ids = allocateId(ids, a.key, range).ids;
            live.add(a.key);
          } else if ("key" in a) {
            ids = releaseId(ids, a.key, range).ids;
            live.delete(a.key);
          } else if (a.kind === "hold") {
            ids = holdForOther(ids, a.id, 99, range).ids;
            others.add(a.id);
          } else {
            ids = freeFromOther(ids, a.id, range).ids;
            others.delete(a.id);
          }
          expect(layout(ids)).toEqual(sortedInsertion([...live], [...others]));
        }
        for (const [key, id] of hmEntries(ids.byKey)) {
          expect(hmGet(ids.byId, String(id))).toBe(key);
          expect(others.has(id)).toBe(false);
        }
        expect(ids.byId.size).toBe(live.size);
      }),
    );
  });

  it("a key whose id another takes moves to a free id, and the move is reported", () => {
    const key = "gw|10.0.0.1|eth0";
    const home = range.nexthopIdBase + (fnv1a(key) % range.nexthopIdCount);
    const placed = allocateId(empty, key, range).ids;
    const { ids, moves } = holdForOther(placed, home, 99, range);
    const to = hmGet(ids.byKey, key);
    expect(to).not.toBe(home);
    expect(to).toBeDefined();
    expect(moves).toEqual([{ key, from: home, to }]);
    // Given back, the id is the key's again.
    const back = freeFromOther(ids, home, range);
    expect(hmGet(back.ids.byKey, key)).toBe(home);
    expect(back.moves).toEqual([{ key, from: to, to: home }]);
  });

  it("others' ids outside the range are not the allocator's business", () => {
    const { ids, moves } = holdForOther(empty, range.nexthopIdBase + range.nexthopIdCount, 99, range);
    expect(ids).toBe(empty);
    expect(moves).toEqual([]);
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
