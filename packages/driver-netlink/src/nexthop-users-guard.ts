/**
 * Deleting a nexthop makes Linux flush every route that uses it and take it out of every
 * group, whoever owns them. Someone may point a route of theirs at one of kroute's
 * nexthops (`ip route add X nhid N`) or put it in a group of theirs: deleting it, as
 * kroute does once no Route needs it, would delete or shrink what they own.
 *
 * So before a batch that deletes nexthops, the routes (both families, every table) and
 * the nexthops are dumped, and a delete of a nexthop that another protocol's route or
 * group uses is refused (EBUSY, naming the users): kroute keeps its stale object rather
 * than flush theirs, and tries again with backoff, as after any refusal. A failed dump
 * refuses nothing. Only batches with nexthop deletes pay for the dumps (a Route deleted,
 * a gateway set no Route uses any more).
 */
import type { Family, Op, OpResult } from "@kroute/core";
import { bytesToPrefix, familyOfAf } from "./address.ts";
import type { BatchDumps } from "./batch-dumps.ts";
import { EBUSY } from "./ffi.ts";

const FAMILIES: readonly Family[] = [4, 6];

/**
 * Nexthop id → what of other owners uses it, as text for the refusal. `protocols` holds
 * the protocol of each nexthop to delete: what uses it under the same protocol is
 * kroute's too. Per nexthop, since a batch handing kroute's objects over from an older
 * protocol deletes nexthops of both (core owned.ts).
 */
async function othersUsing(
  dumps: BatchDumps,
  protocols: ReadonlyMap<number, number>,
): Promise<Map<number, string[]>> {
  const othersUse = (id: number | undefined, protocol: number): id is number =>
    id !== undefined && protocols.has(id) && protocols.get(id) !== protocol;
  const users = new Map<number, string[]>();
  const add = (id: number, user: string) => users.set(id, [...(users.get(id) ?? []), user]);
  for (const family of FAMILIES) {
    const result = await dumps.routes(family);
    for (const message of result.messages) {
      if (message.body.kind !== "route") continue;
      const route = message.body.route;
      if (!othersUse(route.nhId, route.protocol)) continue;
      const af = familyOfAf(route.family);
      const dst = af === undefined ? "?" : bytesToPrefix(af, route.dst, route.dstLen);
      add(route.nhId, `route ${dst} table ${route.tableId ?? route.table} protocol ${route.protocol}`);
    }
  }
  const nexthops = await dumps.nexthops();
  for (const message of nexthops.messages) {
    const nexthop = message.body.kind === "nexthop" ? message.body.nexthop : undefined;
    if (nexthop?.group === undefined) continue;
    for (const member of nexthop.group) {
      if (othersUse(member.id, nexthop.protocol))
        add(member.id, `group ${nexthop.id} protocol ${nexthop.protocol}`);
    }
  }
  return users;
}

/** The nexthop deletes of `ops` that would flush or shrink another owner's objects, by index, with the refusal each gets. */
export async function deletesOfNexthopsOthersUse(
  dumps: BatchDumps,
  ops: readonly Op[],
): Promise<Map<number, OpResult>> {
  const refused = new Map<number, OpResult>();
  const deletes = new Map<number, { id: number; protocol: number }>();
  ops.forEach((op, index) => {
    if (op.object === "nexthop" && op.action === "delete")
      deletes.set(index, { id: op.from.id, protocol: op.from.protocol });
  });
  if (deletes.size === 0) return refused;
  const users = await othersUsing(dumps, new Map([...deletes.values()].map((d) => [d.id, d.protocol])));
  for (const [index, { id }] of deletes) {
    const using = users.get(id);
    if (using === undefined) continue;
    refused.set(index, {
      ok: false,
      errno: EBUSY,
      code: "EBUSY",
      message: `nexthop id ${id} is used by ${using.join(", ")}: kroute keeps it rather than flush what others own`,
    });
  }
  return refused;
}
