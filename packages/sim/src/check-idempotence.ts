/**
 * The idempotence invariant: once a plan's results are fed back, planning again must
 * find nothing to do. One exception, as the engine works: overrides that the first plan
 * held back for a refused protection, which its results put in, follow in a second batch.
 */
import { type NodeState, type Op, overrideWaitsForProtection } from "@kroute/core";
import { formatOp } from "./format.ts";

/** `again`: the plan made once the results of the step's batches are in. */
export function secondPlanProblem(again: readonly Op[]): string | undefined {
  if (again.length === 0) return undefined;
  return `second reconcile is not empty: ${again.length} ops, first ${formatOp(again[0] as Op)}`;
}

/** Whether `again`, planned after the results of a plan made at `planned`, holds only overrides that plan held back. */
export function releasesOnlyWaitingOverrides(planned: NodeState, again: readonly Op[]): boolean {
  return again.length > 0 && again.every((op) => overrideWaitsForProtection(planned, op));
}
