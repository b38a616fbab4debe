/**
 * The selected Routes that want destinations, in seniority order (admission.ts), each
 * with its routable count and every subtree with the sum of its counts: where the cap
 * cuts is then found in the depth of the tree, and a Route event changes one path,
 * where sorting every Route again cost a node over the cap 14 ms an event with 10,000
 * Routes (scripts/bench/core-scale.ts).
 *
 * A persistent AVL tree: an update copies one path, and no path is longer than about
 * 1.44 log2 of the Routes, whatever their names. (A treap keyed by a hash of the
 * seniority would have had a shape independent of history, but names chosen so that
 * their hashes rise with their seniority make it a list: O(Routes) an event and a
 * recursion as deep as the Routes.) Its shape depends on the order Routes came in; what
 * it answers does not. Keys are unique: a seniority ends with the Route's name
 * (contribution.ts).
 */

export interface SeniorityNode {
  /** The Route's seniority: creation time, then name. */
  readonly key: string;
  readonly name: string;
  /** Its destinations that claim a route here (routableCount); never 0. */
  readonly count: number;
  /** The counts of this node and everything under it. */
  readonly sum: number;
  readonly height: number;
  readonly left: SeniorityOrder;
  readonly right: SeniorityOrder;
}

/** null: no Route. */
export type SeniorityOrder = SeniorityNode | null;

function heightOf(order: SeniorityOrder): number {
  return order?.height ?? 0;
}

function node(
  key: string,
  name: string,
  count: number,
  left: SeniorityOrder,
  right: SeniorityOrder,
): SeniorityNode {
  return {
    key,
    name,
    count,
    sum: count + (left?.sum ?? 0) + (right?.sum ?? 0),
    height: 1 + Math.max(heightOf(left), heightOf(right)),
    left,
    right,
  };
}

function withChildren(n: SeniorityNode, left: SeniorityOrder, right: SeniorityOrder): SeniorityNode {
  return node(n.key, n.name, n.count, left, right);
}

function rotateRight(n: SeniorityNode, left: SeniorityNode): SeniorityNode {
  return withChildren(left, left.left, withChildren(n, left.right, n.right));
}

function rotateLeft(n: SeniorityNode, right: SeniorityNode): SeniorityNode {
  return withChildren(right, withChildren(n, n.left, right.left), right.right);
}

/** `n` with these children, rotated so that their heights differ by one at most (they differed by two at most). */
function balanced(n: SeniorityNode, left: SeniorityOrder, right: SeniorityOrder): SeniorityNode {
  if (heightOf(left) > heightOf(right) + 1 && left !== null) {
    const l =
      heightOf(left.left) < heightOf(left.right) && left.right !== null ? rotateLeft(left, left.right) : left;
    return rotateRight(withChildren(n, l, right), l);
  }
  if (heightOf(right) > heightOf(left) + 1 && right !== null) {
    const r =
      heightOf(right.right) < heightOf(right.left) && right.left !== null
        ? rotateRight(right, right.left)
        : right;
    return rotateLeft(withChildren(n, left, r), r);
  }
  return withChildren(n, left, right);
}

/** The order with a Route added (or its count replaced, were its key there). */
export function orderInsert(order: SeniorityOrder, key: string, name: string, count: number): SeniorityOrder {
  if (order === null) return node(key, name, count, null, null);
  if (key < order.key) return balanced(order, orderInsert(order.left, key, name, count), order.right);
  if (key > order.key) return balanced(order, order.left, orderInsert(order.right, key, name, count));
  return node(key, name, count, order.left, order.right);
}

/** The first Route of a non-empty order, and the order without it. */
function withoutFirst(order: SeniorityNode): [SeniorityNode, SeniorityOrder] {
  if (order.left === null) return [order, order.right];
  const [first, left] = withoutFirst(order.left);
  return [first, balanced(order, left, order.right)];
}

/** The order without the Route at `key` (the same order when none is there). */
export function orderDelete(order: SeniorityOrder, key: string): SeniorityOrder {
  if (order === null) return null;
  if (key < order.key) {
    const left = orderDelete(order.left, key);
    return left === order.left ? order : balanced(order, left, order.right);
  }
  if (key > order.key) {
    const right = orderDelete(order.right, key);
    return right === order.right ? order : balanced(order, order.left, right);
  }
  if (order.right === null) return order.left;
  const [next, right] = withoutFirst(order.right);
  return balanced(next, order.left, right);
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
