/**
 * The idempotence invariant: once a plan's results are fed back, planning again must
 * find nothing to do.
 */
import { type NodeState, type Op, plan } from "@kroute/core";
import { formatOp } from "./format.ts";

export function secondPlanProblem(state: NodeState): string | undefined {
  const again = plan(state);
  if (again.length === 0) return undefined;
  return `second reconcile is not empty: ${again.length} ops, first ${formatOp(again[0] as Op)}`;
}
