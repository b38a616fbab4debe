/**
 * How a default-route override takes the node's traffic (SPEC §3.5) without touching
 * the original default route.
 *
 * Normally it is a second default route with a metric below the original's. No metric
 * is below 0, and static network configurations (DigitalOcean droplets among them)
 * give the original default route metric 0; an original at or below kroute's own
 * metric cannot be undercut either. Then the override goes in as the two halves of the
 * address space instead (0.0.0.0/1 and 128.0.0.0/1; ::/1 and 8000::/1), as OpenVPN's
 * def1 does: each half is more specific than any default route, so it wins whatever the
 * metrics, while everything more specific than a half (connected networks, pod routes,
 * the protected host routes) still wins over it. Removing the halves restores the
 * original exactly, as removing a second default route does.
 */
import { hmGet } from "./hashmap.ts";
import type { Family, Prefix } from "./ip.ts";
import { prefixLength } from "./ip.ts";
import { type KernelRoute, routeKey, sharedRouteKey } from "./kernel.ts";
import type { NodeState } from "./state.ts";

const HALVES: Record<Family, readonly [Prefix, Prefix]> = {
  4: ["0.0.0.0/1" as Prefix, "128.0.0.0/1" as Prefix],
  6: ["::/1" as Prefix, "8000::/1" as Prefix],
};

/** The two halves of a family's address space, in address order. */
export function defaultHalves(family: Family): readonly [Prefix, Prefix] {
  return HALVES[family];
}

/** Whether `dst` is exactly one of the halves of its family's address space. */
export function isDefaultHalf(dst: Prefix): boolean {
  return prefixLength(dst) === 1 && (HALVES[4].includes(dst) || HALVES[6].includes(dst));
}

/** Rank class of a split override's halves (see Claim.rank): below every Route's own destinations. */
export const SPLIT_HALF_RANK = "2|";

/**
 * Whether a route to `dst` may be an override by its prefix alone: a default route or
 * a half of the address space. Enough to order a batch (a Route's own /1 placed with
 * them changes nothing); where it matters, isOverrideRoute says which /1 is a half.
 */
export function coversDefault(dst: Prefix): boolean {
  return prefixLength(dst) === 0 || isDefaultHalf(dst);
}

/** Whether an override in the main table must be split: no metric is below the original's. */
export function overrideNeedsSplit(kroutesMetric: number, originalMetric: number): boolean {
  return !(kroutesMetric < originalMetric);
}

/**
 * Whether a desired route overrides the node's default route: a default route (outside
 * the reply table), or a half of a split override, which its winning claim says; a
 * Route's own 0.0.0.0/1 is no override: it pins the protected addresses it holds and
 * protects the replies of its half only (ownProtection).
 */
export function isOverrideRoute(state: NodeState, route: KernelRoute): boolean {
  if (route.table === state.settings.replyTable) return false;
  if (prefixLength(route.dst) === 0) return true;
  if (!coversDefault(route.dst)) return false;
  return hmGet(state.derived.contenders, routeKey(route))?.[0]?.rank.startsWith(SPLIT_HALF_RANK) === true;
}

/**
 * What a desired route that is no override waits for, from its winning claim
 * (contribution.ts): `pins`, the protected addresses it takes from the node's default
 * route (a Route's destination narrower than a default route that holds them), and
 * `replies`, set for a Route's own half of the address space, which takes the node's
 * replies too: the reply table's route to its prefix and its family's reply rules.
 * Undefined when it waits for nothing.
 */
export function ownProtection(
  state: NodeState,
  route: KernelRoute,
): { readonly pins: readonly Prefix[]; readonly replies: boolean } | undefined {
  const winner = hmGet(state.derived.contenders, sharedRouteKey(route))?.[0];
  if (winner === undefined || (winner.pins === undefined && winner.replies !== true)) return undefined;
  return { pins: winner.pins ?? [], replies: winner.replies === true };
}
