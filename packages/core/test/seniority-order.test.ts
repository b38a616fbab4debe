import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cutOf,
  orderDelete,
  orderInsert,
  orderVisit,
  type SeniorityNode,
  type SeniorityOrder,
} from "../src/seniority-order.ts";

interface Entry {
  key: string;
  name: string;
  count: number;
}

/** Seniorities as contribution.ts writes them, with few times so that many Routes tie on one. */
const entryArb: fc.Arbitrary<Entry> = fc
  .record({
    time: fc.constantFrom("-", "0001735689600000", "0001735689601000", "0001738368000000"),
    name: fc.constantFrom(...Array.from({ length: 40 }, (_, i) => `r${i}`)),
    count: fc.integer({ min: 1, max: 6 }),
  })
  .map(({ time, name, count }) => ({ key: `${time}|${name}`, name, count }));

const opsArb = fc.array(fc.record({ entry: entryArb, remove: fc.boolean() }), { maxLength: 120 });

/** Applies the operations to the order and to a plain map of key → entry (the model). */
function play(ops: readonly { entry: Entry; remove: boolean }[]): {
  order: SeniorityOrder;
  model: Map<string, Entry>;
} {
  let order: SeniorityOrder = null;
  const model = new Map<string, Entry>();
  for (const { entry, remove } of ops) {
    if (remove || model.has(entry.key)) {
      order = orderDelete(order, entry.key);
      model.delete(entry.key);
    } else {
      order = orderInsert(order, entry.key, entry.name, entry.count);
      model.set(entry.key, entry);
    }
  }
  return { order, model };
}

function inOrder(order: SeniorityOrder): Entry[] {
  const all: Entry[] = [];
  orderVisit(order, "", undefined, ({ key, name, count }) => all.push({ key, name, count }));
  return all;
}

function sorted(model: Map<string, Entry>): Entry[] {
  return [...model.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Every node's sum and height are its subtree's, and its children's heights differ by one at most (AVL). */
function checkNodes(order: SeniorityOrder): void {
  if (order === null) return;
  const sum = (child: SeniorityNode | null) => child?.sum ?? 0;
  const height = (child: SeniorityNode | null) => child?.height ?? 0;
  expect(order.sum).toBe(order.count + sum(order.left) + sum(order.right));
  expect(order.height).toBe(1 + Math.max(height(order.left), height(order.right)));
  expect(Math.abs(height(order.left) - height(order.right))).toBeLessThanOrEqual(1);
  checkNodes(order.left);
  checkNodes(order.right);
}

/** Cheap runs: many of them, so that cuts landing exactly on a Route's last destination come up. */
describe("the seniority order of the Routes over the cap", () => {
  it("holds the Routes in seniority order with their sums, whatever the inserts and deletes", () => {
    fc.assert(
      fc.property(opsArb, (ops) => {
        const { order, model } = play(ops);
        expect(inOrder(order)).toEqual(sorted(model));
        checkNodes(order);
      }),
      { numRuns: 500 },
    );
  });

  it("stays shallow whatever the names: 100,000 Routes come in seniority order, then the older half goes", () => {
    let order: SeniorityOrder = null;
    const key = (i: number) => `0001735689600000|r${String(i).padStart(6, "0")}`;
    for (let i = 0; i < 100_000; i++) order = orderInsert(order, key(i), `r${i}`, 1);
    // An AVL tree of n nodes is at most 1.44 log2(n + 2) high: 24 here, where a list is 100,000.
    expect(order?.height).toBeLessThanOrEqual(24);
    for (let i = 0; i < 50_000; i++) order = orderDelete(order, key(i));
    expect(order?.height).toBeLessThanOrEqual(23);
    expect(order?.sum).toBe(50_000);
    expect(cutOf(order, 10)).toEqual({ key: key(50_010), name: "r50010", admitted: 0 });
  });

  it("cuts at the first Route that does not fit whole after those before it, as a walk in order does", () => {
    fc.assert(
      fc.property(opsArb, fc.integer({ min: 0, max: 200 }), (ops, cap) => {
        const { order, model } = play(ops);
        let room = cap;
        let expected: { key: string; name: string; admitted: number } | undefined;
        for (const { key, name, count } of sorted(model)) {
          if (count <= room) {
            room -= count;
            continue;
          }
          expected = { key, name, admitted: room };
          break;
        }
        expect(cutOf(order, cap)).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("visits the Routes between two keys, both included", () => {
    fc.assert(
      fc.property(opsArb, entryArb, entryArb, fc.boolean(), (ops, a, b, open) => {
        const { order, model } = play(ops);
        const [from, to] = [a.key, b.key].sort() as [string, string];
        const visited: string[] = [];
        orderVisit(order, from, open ? undefined : to, ({ key }) => visited.push(key));
        const expected = sorted(model)
          .map((e) => e.key)
          .filter((key) => from <= key && (open || key <= to));
        expect(visited).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
