/**
 * The ownership invariant: kroute's ops name only its own objects (its protocol, its
 * nexthop id range), and no foreign object changes while it applies them.
 */
import type { EngineSettings, KernelChange, KernelNexthop, KernelRoute, KernelRule, Op } from "@kroute/core";
import { formatOp } from "./format.ts";

/** A kernel change about an object that has an owner (a route, a nexthop or a rule). */
export interface ChangedObject {
  readonly kind: "route" | "nexthop" | "rule";
  readonly action: "new" | "del";
  readonly object: KernelRoute | KernelNexthop | KernelRule;
}

export function foreignOpProblems(ops: readonly Op[], settings: EngineSettings): string[] {
  return ops
    .filter((op) => !opIsOwned(op, settings))
    .map((op) => `op names a foreign object: ${formatOp(op)}`);
}

/** The owned-or-foreign object a change is about; undefined for links, addresses and overflows. */
export function changedObject(change: KernelChange): ChangedObject | undefined {
  switch (change.kind) {
    case "route":
      return { kind: change.kind, action: change.action, object: change.route };
    case "nexthop":
      return { kind: change.kind, action: change.action, object: change.nexthop };
    case "rule":
      return { kind: change.kind, action: change.action, object: change.rule };
    default:
      return undefined;
  }
}

/** The problem of a foreign object changing while kroute applied its ops. */
export function foreignChangeProblem(changed: ChangedObject): string {
  return `a foreign ${changed.kind} changed while kroute applied its ops: ${changed.action} ${JSON.stringify(changed.object)}`;
}

function opIsOwned(op: Op, settings: EngineSettings): boolean {
  const { protocol, nexthopIdBase, nexthopIdCount } = settings;
  const objects = [...("from" in op ? [op.from] : []), ...("to" in op ? [op.to] : [])];
  return objects.every((o) => {
    if (o.protocol !== protocol) return false;
    if ("id" in o && (o.id < nexthopIdBase || o.id >= nexthopIdBase + nexthopIdCount)) return false;
    return true;
  });
}
