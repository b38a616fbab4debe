/**
 * Whether a Route's node selector selects a node, evaluated once per distinct selector
 * for one set of labels.
 *
 * Why: a label change re-evaluates every Route's selector (SPEC §1), and Routes share
 * a handful of selectors (one per node pool, typically), so 5,000 Routes are 10
 * evaluations, not 5,000 (scripts/bench/sim-scale.ts moves nodes between pools).
 * Selection is a pure function of the selector, the node's name and its labels; the
 * labels object of a node state is replaced, never changed, so it keys the answers, and
 * a WeakMap forgets them with it.
 */
import type { NodeSelector, ValidRoute } from "./route.ts";
import { nodeSelectorMatches } from "./selector.ts";
import type { NodeState } from "./state.ts";

const selectorKeys = new WeakMap<NodeSelector, string>();
const answers = new WeakMap<object, Map<string, Map<string, boolean>>>();

/** The selector as text: selectors alike in it select alike. */
export function selectorKey(selector: NodeSelector): string {
  let key = selectorKeys.get(selector);
  if (key === undefined) {
    key = JSON.stringify(selector);
    selectorKeys.set(selector, key);
  }
  return key;
}

/** nodeSelectorMatches(route.nodeSelector, node), remembered per labels object, node name and selector. */
export function selectedOn(route: ValidRoute, ctx: Pick<NodeState, "nodeName" | "node">): boolean {
  return selects(route.nodeSelector, ctx);
}

/** Whether a node selector (none: every node) selects the node, remembered as selectedOn says. */
export function selects(
  selector: NodeSelector | undefined,
  ctx: Pick<NodeState, "nodeName" | "node">,
): boolean {
  if (!ctx.node.observed) return false;
  if (selector === undefined) return true;
  let byNode = answers.get(ctx.node.labels);
  if (byNode === undefined) {
    byNode = new Map();
    answers.set(ctx.node.labels, byNode);
  }
  let bySelector = byNode.get(ctx.nodeName);
  if (bySelector === undefined) {
    bySelector = new Map();
    byNode.set(ctx.nodeName, bySelector);
  }
  const key = selectorKey(selector);
  let selected = bySelector.get(key);
  if (selected === undefined) {
    selected = nodeSelectorMatches(selector, { name: ctx.nodeName, labels: ctx.node.labels });
    bySelector.set(key, selected);
  }
  return selected;
}
