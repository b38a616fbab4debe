/**
 * A nexthop id is a name anyone can take: another program's object (a blackhole, say)
 * may sit at an id of kroute's range. The core skips such ids once it has seen them
 * (core nexthop-ids.ts), but a batch may be planned before the notification arrives. Linux then
 * refuses kroute's add of that id (EEXIST), but accepts kroute's route through it, or
 * a group with it as a member: kroute's route would carry traffic through someone
 * else's object (into their blackhole), and a replace would overwrite their object.
 *
 * So before a batch that writes or deletes nexthops or routes through them, the
 * nexthops are dumped, and every op that would write, delete or point at an id held
 * under another protocol is refused, naming that protocol: kroute never touches or
 * borrows what others own. A failed dump refuses nothing: the ops go out as before.
 */
import type { Op, OpResult } from "@kroute/core";
import type { BatchDumps } from "./batch-dumps.ts";
import { EEXIST } from "./ffi.ts";

/** The nexthop ids an op writes, deletes or points at, with the protocol it writes them under. */
function idsUsed(op: Op): { protocol: number; ids: number[] } | undefined {
  if (op.object === "rule") return undefined;
  // Linux deletes a nexthop by id alone, whoever holds it: one another took between
  // kroute's plan and this batch would go.
  if (op.action === "delete")
    return op.object === "nexthop" ? { protocol: op.from.protocol, ids: [op.from.id] } : undefined;
  if (op.object === "route") {
    const target = op.to.target;
    return target.kind === "nexthop-object" ? { protocol: op.to.protocol, ids: [target.id] } : undefined;
  }
  const members = op.to.kind === "group" ? op.to.members.map((m) => m.id) : [];
  return { protocol: op.to.protocol, ids: [op.to.id, ...members] };
}

/** The ops of `ops` that would write or use another owner's nexthop, by index, with the refusal each gets. */
export async function opsOnOthersNexthops(
  dumps: BatchDumps,
  ops: readonly Op[],
): Promise<Map<number, OpResult>> {
  const refused = new Map<number, OpResult>();
  const used = ops.map(idsUsed);
  if (used.every((u) => u === undefined)) return refused;
  const result = await dumps.nexthops();
  /** Id → protocol of the nexthop there now, whatever its kind. */
  const holders = new Map<number, number>();
  for (const message of result.messages) {
    const nexthop = message.body.kind === "nexthop" ? message.body.nexthop : undefined;
    if (nexthop?.id !== undefined) holders.set(nexthop.id, nexthop.protocol);
  }
  used.forEach((use, index) => {
    if (use === undefined) return;
    const taken = use.ids.find((id) => {
      const holder = holders.get(id);
      return holder !== undefined && holder !== use.protocol;
    });
    if (taken === undefined) return;
    refused.set(index, {
      ok: false,
      errno: EEXIST,
      code: "EEXIST",
      message: `nexthop id ${taken} holds a nexthop of protocol ${holders.get(taken)}: kroute leaves it alone and does not route through it`,
    });
  });
  return refused;
}
