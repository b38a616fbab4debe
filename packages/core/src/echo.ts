/**
 * Kernel notifications that echo an op. The kernel announces every change, kroute's
 * own included, on the notification socket, while the op's answer comes back on the
 * request socket; the engine may see either first. Notifications for one object come
 * in the order the kernel made the changes, so once an op's echo has been seen, every
 * later notification about its object is newer than the op: the owned state already
 * follows them, and the op's answer must not overwrite them (someone deleting the
 * route just after kroute wrote it). Before its echo, notifications about the object
 * are older than the op, and the answer is the newest word.
 */
import {
  nexthopObjectKey,
  opObjectKey,
  routeObjectKey,
  ruleObjectKey,
  sameNexthop,
  sameRoute,
  sameRule,
} from "./canonical.ts";
import type { KernelChange, Op } from "./kernel.ts";

/** Whether `change` announces exactly what `op` did (or an identical change by someone else). */
export function echoes(change: KernelChange, op: Op): boolean {
  switch (op.object) {
    case "route":
      return (
        change.kind === "route" &&
        (op.action === "delete"
          ? change.action === "del" && sameRoute(change.route, op.from)
          : change.action === "new" && sameRoute(change.route, op.to))
      );
    case "nexthop":
      return (
        change.kind === "nexthop" &&
        (op.action === "delete"
          ? change.action === "del" && change.nexthop.id === op.from.id
          : change.action === "new" && sameNexthop(change.nexthop, op.to))
      );
    case "rule":
      return (
        change.kind === "rule" &&
        (op.action === "delete"
          ? change.action === "del" && sameRule(change.rule, op.from)
          : change.action === "new" && sameRule(change.rule, op.to))
      );
  }
}

/** The object a change notification is about, in opObjectKey's terms; undefined for links and the like. */
function changeObjectKey(change: KernelChange): string | undefined {
  switch (change.kind) {
    case "route":
      return routeObjectKey(change.route);
    case "nexthop":
      return nexthopObjectKey(change.nexthop.id);
    case "rule":
      return ruleObjectKey(change.rule);
    default:
      return undefined;
  }
}

/**
 * Indices of the successful results whose op one of `seen` (notifications while it was
 * in flight) echoes. The notifications are grouped by object first: a first sync of
 * thousands of routes sees as many notifications in flight as it has ops.
 */
export function echoedResults(
  results: readonly { readonly op: Op; readonly result: { readonly ok: boolean } }[],
  seen: readonly KernelChange[],
): number[] {
  if (seen.length === 0) return [];
  const byObject = new Map<string, KernelChange[]>();
  for (const change of seen) {
    const key = changeObjectKey(change);
    if (key === undefined) continue;
    const changes = byObject.get(key);
    if (changes === undefined) byObject.set(key, [change]);
    else changes.push(change);
  }
  const echoed: number[] = [];
  results.forEach(({ op, result }, i) => {
    if (!result.ok) return;
    const changes = byObject.get(opObjectKey(op));
    if (changes?.some((change) => echoes(change, op))) echoed.push(i);
  });
  return echoed;
}
