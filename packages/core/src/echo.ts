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
import { sameNexthop, sameRoute, sameRule } from "./canonical.ts";
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

/** Indices of the successful results whose op one of `seen` (notifications while it was in flight) echoes. */
export function echoedResults(
  results: readonly { readonly op: Op; readonly result: { readonly ok: boolean } }[],
  seen: readonly KernelChange[],
): number[] {
  if (seen.length === 0) return [];
  const echoed: number[] = [];
  results.forEach(({ op, result }, i) => {
    if (result.ok && seen.some((change) => echoes(change, op))) echoed.push(i);
  });
  return echoed;
}
