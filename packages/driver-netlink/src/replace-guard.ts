/**
 * Linux replaces the first IPv4 route at a key (table, prefix, tos, metric), whoever
 * owns it: fib_table_insert with NLM_F_REPLACE takes the first alias with that tos and
 * metric, and rtm_protocol is no part of the key. A route someone put at kroute's exact
 * key with `ip route prepend` comes first, so kroute's next in-place replace would
 * overwrite it and leave kroute's own behind. (An add at a taken key is refused with
 * EEXIST. IPv6 replaces only a route of the same kind, so a route through a nexthop
 * object, as kroute writes them, never replaces another's gateway route; checked with
 * `ip` on Linux 6.x.)
 *
 * So before a batch's in-place IPv4 replaces, the IPv4 routes are dumped, and a
 * replace whose key another owner's route leads is refused as an add would be: kroute
 * never touches what others own. Only batches with such replaces pay for the dump: with
 * nexthop objects a route is replaced in place only when its nexthop id changes.
 */
import type { KernelRoute, Op, OpResult } from "@kroute/core";
import type { BatchDumps } from "./batch-dumps.ts";
import type { LinkNames } from "./domain/names.ts";
import { messageToRoute } from "./domain/routes.ts";
import { EEXIST } from "./ffi.ts";
import { sameRouteKey } from "./ops.ts";

function keyOf(route: KernelRoute): string {
  return `${route.table}|${route.dst}|${route.tos ?? 0}|${route.metric}`;
}

/** In-place IPv4 route replaces of a batch, by index: the ops a foreign route can lead. */
function inPlaceIpv4Replaces(ops: readonly Op[]): Map<number, KernelRoute> {
  const replaces = new Map<number, KernelRoute>();
  ops.forEach((op, index) => {
    if (
      op.object === "route" &&
      op.action === "replace" &&
      op.to.family === 4 &&
      sameRouteKey(op.from, op.to)
    )
      replaces.set(index, op.from);
  });
  return replaces;
}

/**
 * The replaces of `ops` that would overwrite another owner's route, by index, with the
 * refusal each gets. A failed dump refuses nothing: the replace goes out as before.
 */
export async function replacesLedByOthers(
  dumps: BatchDumps,
  names: LinkNames,
  ops: readonly Op[],
): Promise<Map<number, OpResult>> {
  const refused = new Map<number, OpResult>();
  const replaces = inPlaceIpv4Replaces(ops);
  if (replaces.size === 0) return refused;
  /** Key → protocol of the first route at it (dumps list a key's routes in the kernel's order). */
  const leaders = new Map<string, number>();
  const tables = new Set([...replaces.values()].map((route) => route.table));
  for (const message of (await dumps.routes(4)).messages) {
    if (message.body.kind !== "route") continue;
    const route = messageToRoute(message.body.route, names);
    if (route === undefined || !tables.has(route.table)) continue;
    const key = keyOf(route);
    if (!leaders.has(key)) leaders.set(key, route.protocol);
  }
  for (const [index, ours] of replaces) {
    const leader = leaders.get(keyOf(ours));
    if (leader === undefined || leader === ours.protocol) continue;
    refused.set(index, {
      ok: false,
      errno: EEXIST,
      code: "EEXIST",
      message:
        `a route of protocol ${leader} comes first at table ${ours.table} ${ours.dst} metric ${ours.metric}: ` +
        "Linux would replace it instead of kroute's, so kroute leaves it alone",
    });
  }
  return refused;
}
