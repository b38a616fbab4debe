/**
 * SPEC §3.5: a default-route override goes in only once what protects the node from it
 * is in: the protected host routes and the reply rules of its family. So does a Route's
 * destination narrower than a default route that holds protected addresses (a VPN's
 * 0.0.0.0/1 and 128.0.0.0/1): once the host routes of the addresses it holds (its pins,
 * contribution.ts) are in, and, for a Route's own half of the address space, its reply
 * protection too (the reply table's route to the half and the reply rules of its
 * family). All are "guarded" routes here.
 *
 * Across applies, plan() holds a guarded route back while the kernel refuses one of its
 * protections (overrideWaitsForProtection). Within one apply, orderOps puts them before
 * it, but the kernel applies a batch op by op and goes on after a refusal: a protection
 * refused in the same batch as the route it guards would leave that route in and the API
 * server behind it. So a batch that installs a guarded route together with what guards
 * it is applied in two stages: the ops before the first such route, then the rest,
 * without the guarded routes whose protection the first stage saw refused. Those get no
 * result: they stay to be done, and plan() holds them back until the refusal is retried
 * and taken.
 */
import { opObjectKey } from "./canonical.ts";
import { hmGet } from "./hashmap.ts";
import type { Family, Prefix } from "./ip.ts";
import { type KernelRoute, type Op, type OpResult, routeKey } from "./kernel.ts";
import { isOverrideRoute, ownProtection } from "./override.ts";
import type { NodeState, OpFailure } from "./state.ts";

/**
 * A route that waits for its protection: an override (no pins: its family's whole
 * protection), or one that captures `pins` and, with `replies`, takes the node's
 * replies to its own prefix (a Route's half of the address space).
 */
export interface GuardedRoute {
  readonly route: KernelRoute;
  readonly pins?: readonly Prefix[];
  readonly replies?: boolean;
}

/** The guarded route a desired route is, if it is one. */
export function guardedRoute(state: NodeState, route: KernelRoute): GuardedRoute | undefined {
  if (isOverrideRoute(state, route)) return { route };
  const own = ownProtection(state, route);
  return own === undefined ? undefined : { route, ...own };
}

/** The guarded route an op adds or replaces, if it is one. */
export function installedGuarded(state: NodeState, op: Op): GuardedRoute | undefined {
  if (op.object !== "route" || op.action === "delete") return undefined;
  return guardedRoute(state, op.to);
}

/**
 * The family an object protects from an override, by its object key ("r|…", "u|…", as
 * opObjectKey and state.failures spell it): a protected host route (its winning claim
 * ranks "0|") or one of kroute's rules (the reply rules and the rule before them).
 */
export function protectedFamily(state: NodeState, objectKey: string): Family | undefined {
  const key = objectKey.slice(2);
  if (objectKey.startsWith("u|")) return hmGet(state.derived.rules, key)?.rule.family;
  if (!objectKey.startsWith("r|")) return undefined;
  const winner = hmGet(state.derived.contenders, key)?.[0];
  return winner?.rank.startsWith("0|") === true ? winner.family : undefined;
}

/** Whether an object (by key) protects the node from `guarded`: one of the routes or rules it waits for. */
function protects(state: NodeState, guarded: GuardedRoute, objectKey: string): boolean {
  const { route, pins, replies = false } = guarded;
  if (pins === undefined) return protectedFamily(state, objectKey) === route.family;
  if (objectKey.startsWith("u|")) return replies && protectedFamily(state, objectKey) === route.family;
  if (!objectKey.startsWith("r|")) return false;
  const winner = hmGet(state.derived.contenders, objectKey.slice(2))?.[0];
  if (winner?.rank.startsWith("0|") !== true || winner.family !== route.family) return false;
  if (replies && winner.table === state.settings.replyTable && winner.dst === route.dst) return true;
  return winner.table === route.table && pins.includes(winner.dst);
}

/**
 * Across applies: a guarded route is held back while the kernel refuses (state.failures)
 * a route or rule that protects from it. plan() leaves it out until the refusal is
 * retried and taken; the plan after that one's results has it.
 */
export function overrideWaitsForProtection(state: NodeState, op: Op): boolean {
  const guarded = installedGuarded(state, op);
  if (guarded === undefined) return false;
  return refusedProtection(state, guarded) !== undefined;
}

/**
 * A refused route or rule that protects from `guarded`, named for status (the protected
 * address, or the rule's priority) with the kernel's message.
 */
export function refusedProtection(
  state: NodeState,
  guarded: GuardedRoute,
): { readonly what: string; readonly failure: OpFailure } | undefined {
  for (const [key, failure] of Object.entries(state.failures)) {
    if (!protects(state, guarded, key)) continue;
    const what = key.startsWith("u|")
      ? `kroute's rule at priority ${hmGet(state.derived.rules, key.slice(2))?.rule.priority}`
      : `the route that keeps ${hmGet(state.derived.contenders, key.slice(2))?.[0]?.dst} on the original gateway`;
    return { what, failure };
  }
  return undefined;
}

/**
 * An ordered batch cut before its first override, or its first route that captures
 * protected addresses or takes replies whose protection the batch adds too: `rest` is
 * empty when it installs none. (A guarded route whose protection is in the kernel
 * already waits for nothing in the batch.)
 */
export function splitBeforeOverride(
  state: NodeState,
  ops: readonly Op[],
): { readonly first: readonly Op[]; readonly rest: readonly Op[] } {
  let added: { readonly routes: Set<string>; readonly ruleFamilies: Set<Family> } | undefined;
  const addsProtectionOf = ({ route, pins = [], replies = false }: GuardedRoute) => {
    added ??= {
      routes: new Set(
        ops.flatMap((op) => (op.object === "route" && op.action !== "delete" ? [routeKey(op.to)] : [])),
      ),
      ruleFamilies: new Set(
        ops.flatMap((op) => (op.object === "rule" && op.action !== "delete" ? [op.to.family] : [])),
      ),
    };
    const { routes, ruleFamilies } = added;
    if (pins.some((dst) => routes.has(routeKey({ ...route, dst })))) return true;
    return (
      replies &&
      (routes.has(routeKey({ ...route, table: state.settings.replyTable })) || ruleFamilies.has(route.family))
    );
  };
  const at = ops.findIndex((op) => {
    const guarded = installedGuarded(state, op);
    return guarded !== undefined && (guarded.pins === undefined || addsProtectionOf(guarded));
  });
  return at < 0 ? { first: ops, rest: [] } : { first: ops.slice(0, at), rest: ops.slice(at) };
}

/** The second stage: `rest` without the guarded routes whose protection the first stage saw refused. */
export function secondStage(
  state: NodeState,
  rest: readonly Op[],
  firstApplied: readonly { readonly op: Op; readonly result: OpResult }[],
): readonly Op[] {
  const refused = firstApplied.filter(({ result }) => !result.ok).map(({ op }) => opObjectKey(op));
  if (refused.length === 0) return rest;
  return rest.filter((op) => {
    const guarded = installedGuarded(state, op);
    return guarded === undefined || !refused.some((key) => protects(state, guarded, key));
  });
}
