/**
 * Which destinations one node programs when its selected Routes want more than
 * --max-destinations (EngineSettings.maxDestinations): older Routes first (creation
 * time, then name, as a conflict is settled), and within a Route its destinations in the
 * spec's order. The answer depends only on the Routes selected, never on the order their
 * events came in, so it is the same on every node selecting them and after a restart,
 * and nothing flaps as Routes come and go; a Route left out gets in when room appears.
 *
 * Why a cap: nothing else bounds the Routes a node is given. 100 Routes of 1,024
 * destinations are 102,400 routes in every node they select: kernel tables, the agent's
 * memory and its status writes, all at the will of whoever may write a Route.
 */
import { emptyHashMap, type HashMap, hmSet } from "./hashmap.ts";
import type { KernelRule } from "./kernel.ts";
import { type Cut, cutOf, orderInsert, orderVisit, type SeniorityOrder } from "./seniority-order.ts";
import type { Claim, Contribution } from "./state.ts";

/** Destinations of the Route that claim a route on this node (the ones the cap counts). */
export function routableCount(contribution: Contribution | undefined): number {
  return contribution?.routableEnds.length ?? 0;
}

/** How many of a Route's `count` destinations are admitted, the cap cutting where `cut` says. */
export function admittedAt(cut: Cut | undefined, seniority: string, count: number): number {
  if (cut === undefined || seniority < cut.key) return count;
  return seniority === cut.key ? cut.admitted : 0;
}

/**
 * The seniority order of the Routes that want destinations, made when a node goes over
 * the cap (O(Routes), once) and kept while it stays there (derive.ts).
 */
export function seniorityOrderOf(contributions: Iterable<Contribution>): SeniorityOrder {
  let order: SeniorityOrder = null;
  for (const contribution of contributions) {
    const wanted = routableCount(contribution);
    if (wanted > 0) order = orderInsert(order, contribution.seniority, contribution.name, wanted);
  }
  return order;
}

/**
 * Route name → destinations admitted, for the Routes admitted less than whole (none when
 * every one fits): the Route the cap cuts through and every one after it.
 */
export function admission(order: SeniorityOrder, cap: number): HashMap<number> {
  const cut = cutOf(order, cap);
  let capped = emptyHashMap<number>();
  if (cut === undefined) return capped;
  orderVisit(order, cut.key, undefined, (route) => {
    capped = hmSet(capped, route.name, admittedAt(cut, route.key, route.count));
  });
  return capped;
}

/** The claims of a Route's first `admitted` routable destinations (all of them, as they are, when it is whole). */
export function admittedClaims(contribution: Contribution | undefined, admitted: number): readonly Claim[] {
  if (contribution === undefined) return [];
  if (admitted >= routableCount(contribution)) return contribution.claims;
  return contribution.claims.slice(0, admitted === 0 ? 0 : contribution.routableEnds[admitted - 1]?.claims);
}

/** The rules of a Route's first `admitted` routable destinations (a default-route override's reply rules). */
export function admittedRules(
  contribution: Contribution | undefined,
  admitted: number,
): readonly KernelRule[] {
  if (contribution === undefined) return [];
  if (admitted >= routableCount(contribution)) return contribution.rules;
  return contribution.rules.slice(0, admitted === 0 ? 0 : contribution.routableEnds[admitted - 1]?.rules);
}

/** Why a destination past the cap is not programmed, naming the setting and its value. */
export function cappedReason(cap: number): string {
  return `this node programs at most ${cap} destinations (--max-destinations ${cap}), and older Routes' (creationTimestamp, then name) and this Route's earlier destinations take them all`;
}
