/**
 * The ownership invariant: kroute's ops name only its own objects (its protocol, its
 * nexthop id range), and no foreign object changes while it applies them.
 */
import {
  type EngineSettings,
  isKroutesProtocol,
  type KernelChange,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type Op,
} from "@kroute/core";
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

/**
 * What an op replaces or deletes is kroute's (its protocol, or the one it hands over
 * from); what it writes carries its own protocol: the old one is never written again.
 */
function opIsOwned(op: Op, settings: EngineSettings): boolean {
  const { nexthopIdBase, nexthopIdCount } = settings;
  const inRange = (o: object) =>
    !("id" in o) ||
    (typeof o.id === "number" && o.id >= nexthopIdBase && o.id < nexthopIdBase + nexthopIdCount);
  const from = "from" in op ? [op.from] : [];
  const to = "to" in op ? [op.to] : [];
  return (
    from.every((o) => isKroutesProtocol(o.protocol, settings) && inRange(o)) &&
    to.every((o) => o.protocol === settings.protocol && inRange(o))
  );
}
