/**
 * The valid Routes of a by-name index grouped by node selector, made once per index and
 * shared by every node state that holds it, as the index itself is (shared-routes.ts).
 *
 * Why: labels reach a node's Routes through their selectors alone, and Routes share a
 * handful of selectors (one per node pool, typically). The Routes a node selects are
 * then the members of a few groups, not 5,000 Routes tested one by one: that test, even
 * remembered per selector (shared-selection.ts), was a tenth of a label move in
 * scripts/bench/sim-scale.ts. After a Route event the next index's groups are made from
 * the last ones (one Route moved), once for every node that applies the event.
 */
import { emptyHashMap, type HashMap, hmDelete, hmForEach, hmGet, hmPut, hmSet } from "./hashmap.ts";
import type { NodeSelector, RouteValidation } from "./route.ts";
import { selectorKey, selects } from "./shared-selection.ts";
import type { NodeState } from "./state.ts";

interface SelectorGroup {
  /** A member's selector (all are alike as text, so they select alike); undefined: Routes without one. */
  readonly selector: NodeSelector | undefined;
  readonly members: HashMap<RouteValidation>;
}

/** Groups by selector text ("" for no selector: every selector's text is a JSON object). */
type SelectorGroups = HashMap<SelectorGroup>;

const groupsOf = new WeakMap<HashMap<RouteValidation>, SelectorGroups>();

/** An invalid Route selects no node: it is in no group. */
function groupKey(validation: RouteValidation): string | undefined {
  if (!validation.ok) return undefined;
  const selector = validation.route.nodeSelector;
  return selector === undefined ? "" : selectorKey(selector);
}

function withMember(groups: SelectorGroups, name: string, validation: RouteValidation): SelectorGroups {
  const key = groupKey(validation);
  if (key === undefined || !validation.ok) return groups;
  const group = hmGet(groups, key);
  return hmSet(groups, key, {
    selector: group?.selector ?? validation.route.nodeSelector,
    members: hmSet(group?.members ?? emptyHashMap(), name, validation),
  });
}

function withoutMember(groups: SelectorGroups, name: string, validation: RouteValidation): SelectorGroups {
  const key = groupKey(validation);
  const group = key === undefined ? undefined : hmGet(groups, key);
  if (key === undefined || group === undefined) return groups;
  const members = hmDelete(group.members, name);
  return hmPut(groups, key, members.size === 0 ? undefined : { selector: group.selector, members });
}

function selectorGroups(byName: HashMap<RouteValidation>): SelectorGroups {
  let groups = groupsOf.get(byName);
  if (groups === undefined) {
    let made = emptyHashMap<SelectorGroup>();
    hmForEach(byName, (validation, name) => {
      made = withMember(made, name, validation);
    });
    groups = made;
    groupsOf.set(byName, groups);
  }
  return groups;
}

/**
 * Records the groups of `next`, the index `byName` with one Route set (validation) or
 * deleted (undefined), when those of `byName` are known; otherwise they are made when
 * first asked for.
 */
export function regroup(
  byName: HashMap<RouteValidation>,
  next: HashMap<RouteValidation>,
  name: string,
  validation: RouteValidation | undefined,
): void {
  const groups = groupsOf.get(byName);
  if (groups === undefined || groupsOf.has(next)) return;
  const previous = hmGet(byName, name);
  const without = previous === undefined ? groups : withoutMember(groups, name, previous);
  groupsOf.set(next, validation === undefined ? without : withMember(without, name, validation));
}

/**
 * The valid Routes of the index whose node selector selects the node, group by group:
 * in no order callers may rely on.
 */
export function selectedRoutes(
  byName: HashMap<RouteValidation>,
  ctx: Pick<NodeState, "nodeName" | "node">,
): RouteValidation[] {
  const selected: RouteValidation[] = [];
  hmForEach(selectorGroups(byName), (group) => {
    if (!selects(group.selector, ctx)) return;
    hmForEach(group.members, (validation) => {
      selected.push(validation);
    });
  });
  return selected;
}
