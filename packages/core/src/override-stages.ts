/**
 * SPEC §3.5: a default-route override goes in only once what protects the node from it
 * is in: the protected host routes and the reply rules of its family.
 *
 * Across applies, plan() holds an override back while the kernel refuses one of them
 * (overrideWaitsForProtection). Within one apply, orderOps puts them before the override, but the kernel applies a
 * batch op by op and goes on after a refusal: a protection refused in the same batch as
 * the override would leave the override in and the API server behind it. So a batch
 * that installs an override is applied in two stages: the ops before the first
 * override, then the rest, without the overrides of a family whose protection the
 * first stage saw refused. Those get no result: they stay to be done, and plan() holds
 * them back until the refusal is retried and taken.
 */
import { opObjectKey } from "./canonical.ts";
import { hmGet } from "./hashmap.ts";
import type { Family } from "./ip.ts";
import type { KernelRoute, Op, OpResult } from "./kernel.ts";
import { isOverrideRoute } from "./override.ts";
import type { NodeState, OpFailure } from "./state.ts";

/** The override route an op adds or replaces, if it is one. */
export function installedOverride(state: NodeState, op: Op): KernelRoute | undefined {
  if (op.object !== "route" || op.action === "delete") return undefined;
  return isOverrideRoute(state, op.to) ? op.to : undefined;
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

/**
 * Across applies: an override is held back while the kernel refuses (state.failures) a
 * route or rule that protects its family. plan() leaves it out until the refusal is
 * retried and taken; the plan after that one's results has it.
 */
export function overrideWaitsForProtection(state: NodeState, op: Op): boolean {
  const override = installedOverride(state, op);
  if (override === undefined) return false;
  return refusedProtection(state, override.family) !== undefined;
}

/**
 * A refused route or rule that protects `family` from an override, named for status
 * (the protected address, or the rule's priority) with the kernel's message.
 */
export function refusedProtection(
  state: NodeState,
  family: Family,
): { readonly what: string; readonly failure: OpFailure } | undefined {
  for (const [key, failure] of Object.entries(state.failures)) {
    if (protectedFamily(state, key) !== family) continue;
    const what = key.startsWith("u|")
      ? `kroute's rule at priority ${hmGet(state.derived.rules, key.slice(2))?.rule.priority}`
      : `the route that keeps ${hmGet(state.derived.contenders, key.slice(2))?.[0]?.dst} on the original gateway`;
    return { what, failure };
  }
  return undefined;
}

/** An ordered batch cut before its first override: `rest` is empty when it installs none. */
export function splitBeforeOverride(
  state: NodeState,
  ops: readonly Op[],
): { readonly first: readonly Op[]; readonly rest: readonly Op[] } {
  const at = ops.findIndex((op) => installedOverride(state, op) !== undefined);
  return at < 0 ? { first: ops, rest: [] } : { first: ops.slice(0, at), rest: ops.slice(at) };
}

/** The second stage: `rest` without the overrides of a family whose protection the first stage saw refused. */
export function secondStage(
  state: NodeState,
  rest: readonly Op[],
  firstApplied: readonly { readonly op: Op; readonly result: OpResult }[],
): readonly Op[] {
  const refused = new Set<Family>();
  for (const { op, result } of firstApplied) {
    if (result.ok) continue;
    const family = protectedFamily(state, opObjectKey(op));
    if (family !== undefined) refused.add(family);
  }
  if (refused.size === 0) return rest;
  return rest.filter((op) => {
    const override = installedOverride(state, op);
    return override === undefined || !refused.has(override.family);
  });
}
