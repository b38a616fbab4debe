/**
 * plan(state): the ops to apply now. Equal to
 * `diff(desiredTable(state), state.kernel, { prune: canPrune(state) })` minus ops held
 * back by retry backoff, but computed from the mismatch set that the reducer keeps,
 * so its cost follows what changed, not the size of the table.
 */
import { canonicalOp, opObjectKey } from "./canonical.ts";
import { nexthopOps, orderOps, routeOps, ruleOps, withCascade } from "./diff.ts";
import { hmGet, hmKeys } from "./hashmap.ts";
import type { Op } from "./kernel.ts";
import { overrideWaitsForProtection } from "./override-stages.ts";
import type { NodeState } from "./state.ts";

/** Deleting is safe only once every source has synced and the kernel dump was complete. */
export function canPrune(state: NodeState): boolean {
  return (
    state.routes.synced &&
    state.node.observed &&
    state.host.observed &&
    state.kernel.observed &&
    state.kernel.complete
  );
}

/**
 * The kernel holds the desired table, as far as the engine knows: every source has
 * synced (the desired table is the whole one), the kernel view is complete (a complete
 * dump, no notification lost since), and no object differs between the two: nothing
 * waits to be applied, nothing the kernel refused is left over.
 */
export function kernelHoldsDesired(state: NodeState): boolean {
  return canPrune(state) && state.derived.mismatch.size === 0;
}

/** True when the kernel slice cannot be trusted whole (an interrupted dump, lost notifications): dump again. */
export function kernelResyncNeeded(state: NodeState): boolean {
  return state.kernel.observed && !state.kernel.complete;
}

/** Ops for every object whose desired and observed forms differ, before backoff gating. */
export function pendingOps(state: NodeState): Op[] {
  const prune = canPrune(state);
  const { derived, kernel } = state;
  const ops: Op[] = [];
  for (const objectKey of hmKeys(derived.mismatch)) {
    const key = objectKey.slice(2);
    switch (objectKey[0]) {
      case "r":
        ops.push(...routeOps(hmGet(derived.routes, key), hmGet(kernel.routes, key), prune));
        break;
      case "n":
        ops.push(...nexthopOps(hmGet(derived.nexthops, key), hmGet(kernel.nexthops, key), prune));
        break;
      default:
        ops.push(...ruleOps(hmGet(derived.rules, key)?.rule, hmGet(kernel.rules, key), prune));
    }
  }
  return ops;
}

/** True when this exact op failed and its backoff has not yet been re-opened by a retry timer. */
export function isHeldBack(state: NodeState, op: Op): boolean {
  const failure = state.failures[opObjectKey(op)];
  return failure?.gated === true && failure.op === canonicalOp(op);
}

export function plan(state: NodeState): Op[] {
  const pending = pendingOps(state);
  const { derived } = state;
  const lookup = {
    route: (key: string) => hmGet(derived.routes, key),
    nexthop: (id: number) => hmGet(derived.nexthops, String(id)),
  };
  // A nexthop changing kind flushes routes that are not in the mismatch set: withCascade re-adds them.
  const cascaded = withCascade(pending, lookup, state.kernel);
  // Only a refusal holds an op back; without any, the per-op checks (an object key and
  // a prefix parse each) are skipped, which most plans of thousands of ops are.
  const allowed =
    Object.keys(state.failures).length === 0
      ? cascaded
      : cascaded.filter((op) => !isHeldBack(state, op) && !overrideWaitsForProtection(state, op));
  return orderOps(allowed, lookup, state.kernel);
}

/** Earliest time a held-back op may be retried: when the engine should fire a `retry` timer. */
export function nextRetryAt(state: NodeState): string | undefined {
  let earliest: string | undefined;
  for (const failure of Object.values(state.failures)) {
    if (!failure.gated) continue;
    if (earliest === undefined || Date.parse(failure.retryAt) < Date.parse(earliest))
      earliest = failure.retryAt;
  }
  return earliest;
}
