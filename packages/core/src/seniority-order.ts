/**
 * The selected Routes that want destinations, in seniority order (admission.ts), each
 * with its routable count and every subtree with the sum of its counts: where the cap
 * cuts is then found in the depth of the tree, and a Route event changes one path,
 * where sorting every Route again cost a node over the cap 18 ms an event with 10,000
 * Routes (scripts/bench/core-scale.ts).
 *
 * A persistent treap: a node's priority is the hash of its key, so the shape is a
 * function of the key set alone (as hashmap.ts's), whatever order the Routes came in,
 * and an update copies one path of expected depth O(log n). Keys are unique: a
 * seniority ends with the Route's name (contribution.ts).
 */
import { fnv1a } from "./hashmap.ts";

export interface SeniorityNode {
  /** The Route's seniority: creation time, then name. */
  readonly key: string;
  readonly name: string;
  /** Its destinations that claim a route here (routableCount); never 0. */
  readonly count: number;
  /** The counts of this node and everything under it. */
  readonly sum: number;
  readonly priority: number;
  readonly left: SeniorityOrder;
  readonly right: SeniorityOrder;
}

/** null: no Route. */
export type SeniorityOrder = SeniorityNode | null;

function node(
  key: string,
  name: string,
  count: number,
  priority: number,
  left: SeniorityOrder,
  right: SeniorityOrder,
): SeniorityNode {
  return { key, name, count, sum: count + (left?.sum ?? 0) + (right?.sum ?? 0), priority, left, right };
}

function withChildren(n: SeniorityNode, left: SeniorityOrder, right: SeniorityOrder): SeniorityNode {
  return node(n.key, n.name, n.count, n.priority, left, right);
}

/** Whether `a` sits above `b`: the higher hash, the key breaking a tie (keys are unique). */
function above(a: SeniorityNode, b: SeniorityNode): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.key < b.key);
}

/** The Routes below `key`, and those at or above it. */
function split(order: SeniorityOrder, key: string): [SeniorityOrder, SeniorityOrder] {
  if (order === null) return [null, null];
  if (order.key < key) {
    const [less, rest] = split(order.right, key);
    return [withChildren(order, order.left, less), rest];
  }
  const [less, rest] = split(order.left, key);
  return [less, withChildren(order, rest, order.right)];
}

/** Every key of `low` below every key of `high`. */
function merge(low: SeniorityOrder, high: SeniorityOrder): SeniorityOrder {
  if (low === null) return high;
  if (high === null) return low;
  if (above(low, high)) return withChildren(low, low.left, merge(low.right, high));
  return withChildren(high, merge(low, high.left), high.right);
}

/** The order with a Route added; its key must not be in it. */
export function orderInsert(order: SeniorityOrder, key: string, name: string, count: number): SeniorityOrder {
  const [less, rest] = split(order, key);
  return merge(merge(less, node(key, name, count, fnv1a(key), null, null)), rest);
}

/** The order without the Route at `key` (the same order when none is there). */
export function orderDelete(order: SeniorityOrder, key: string): SeniorityOrder {
  if (order === null) return null;
  if (key < order.key) {
    const left = orderDelete(order.left, key);
    return left === order.left ? order : withChildren(order, left, order.right);
  }
  if (key > order.key) {
    const right = orderDelete(order.right, key);
    return right === order.right ? order : withChildren(order, order.left, right);
  }
  return merge(order.left, order.right);
}

/** The Route whose destinations the cap cuts through, and how many of them fit. */
export interface Cut {
  readonly key: string;
  readonly name: string;
  readonly admitted: number;
}

/**
 * The first Route, in seniority order, whose destinations do not all fit in `cap` after
 * those of the Routes before it (it may have none admitted); undefined when all fit.
 */
export function cutOf(order: SeniorityOrder, cap: number): Cut | undefined {
  if (order === null || order.sum <= cap) return undefined;
  let room = cap;
  let at: SeniorityNode = order;
  for (;;) {
    const left = at.left?.sum ?? 0;
    if (at.left !== null && room < left) {
      at = at.left;
      continue;
    }
    room -= left;
    if (room < at.count) return { key: at.key, name: at.name, admitted: room };
    room -= at.count;
    // The sum past the cap means some Route to the right is cut.
    at = at.right as SeniorityNode;
  }
}

/** Visits, in seniority order, the Routes with keys from `from` up to `to` (both included; undefined: to the last). */
export function orderVisit(
  order: SeniorityOrder,
  from: string,
  to: string | undefined,
  visit: (route: SeniorityNode) => void,
): void {
  if (order === null) return;
  if (from < order.key) orderVisit(order.left, from, to, visit);
  if (from <= order.key && (to === undefined || order.key <= to)) visit(order);
  if (to === undefined || order.key < to) orderVisit(order.right, from, to, visit);
}
