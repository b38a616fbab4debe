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
import type { Claim, Contribution } from "./state.ts";

/** Destinations of the Route that claim a route on this node (the ones the cap counts). */
export function routableCount(contribution: Contribution | undefined): number {
  return contribution?.routableEnds.length ?? 0;
}

/**
 * Route name → destinations admitted, for the Routes admitted less than whole (none when
 * every one fits). Sorting every selected Route costs O(Routes): it is done only when the
 * node wants more than the cap, or did until this change (derive.ts).
 */
export function admission(contributions: Iterable<Contribution>, cap: number): HashMap<number> {
  const wanting = [...contributions].filter((c) => routableCount(c) > 0);
  wanting.sort((a, b) => (a.seniority < b.seniority ? -1 : a.seniority > b.seniority ? 1 : 0));
  let room = cap;
  let capped = emptyHashMap<number>();
  for (const contribution of wanting) {
    const wanted = routableCount(contribution);
    if (wanted <= room) {
      room -= wanted;
      continue;
    }
    capped = hmSet(capped, contribution.name, room);
    room = 0;
  }
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
