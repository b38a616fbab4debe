/**
 * Others' nexthops at ids of kroute's range: never kroute's to touch, but ids it cannot
 * use. `othersIds` (id → protocol) is what the id layout reads; `othersNexthops` keeps
 * the objects, because only they tell which link takes them: Linux deletes a gateway or
 * device-only nexthop when its device loses carrier, goes down or goes away, and a group
 * left without members with it, and announces none of it (checked with `ip monitor
 * nexthop` on Linux 6.18). The link notification is all the news there is.
 */
import { hmDelete, hmFromEntries, hmGet, hmHas, hmSet, hmValues } from "./hashmap.ts";
import type { KernelNexthop } from "./kernel.ts";
import type { OwnedKernelState } from "./state.ts";

type Others = Pick<OwnedKernelState, "othersIds" | "othersNexthops">;

export function othersFromNexthops(nexthops: readonly KernelNexthop[]): Others {
  return {
    othersIds: hmFromEntries(nexthops.map((n) => [String(n.id), n.protocol])),
    othersNexthops: hmFromEntries(nexthops.map((n) => [String(n.id), n])),
  };
}

/**
 * After a notification of a nexthop at an id of the range: `holds` when another's is
 * there now. The id map changes only when an id is taken, given back or changes owner,
 * so that a group of theirs that merely changed costs the id layout nothing.
 */
export function withOthersNexthop<K extends Others>(kernel: K, nexthop: KernelNexthop, holds: boolean): K {
  const id = String(nexthop.id);
  if (!holds) {
    if (!hmHas(kernel.othersNexthops, id) && !hmHas(kernel.othersIds, id)) return kernel;
    return {
      ...kernel,
      othersIds: hmDelete(kernel.othersIds, id),
      othersNexthops: hmDelete(kernel.othersNexthops, id),
    };
  }
  const sameOwner = hmGet(kernel.othersIds, id) === nexthop.protocol;
  return {
    ...kernel,
    othersIds: sameOwner ? kernel.othersIds : hmSet(kernel.othersIds, id, nexthop.protocol),
    othersNexthops: hmSet(kernel.othersNexthops, id, nexthop),
  };
}

/** The device a nexthop leaves through, for those Linux flushes with it. */
function deviceOf(nexthop: KernelNexthop): string | undefined {
  return nexthop.kind === "group" ? undefined : nexthop.dev;
}

/**
 * Forgets others' nexthops that the flush of `dev`'s nexthops took: theirs on the device,
 * and their groups left with no member (`ownGone`: kroute's own that went, which their
 * groups may hold too). A member at an id outside the range is never seen, so a group
 * holding one is kept: the id stays taken until the next dump, as it was before.
 */
export function forgetOthersFlushedWith<K extends Others>(
  kernel: K,
  dev: string,
  ownGone: ReadonlySet<number>,
): K {
  const gone = new Set(ownGone);
  let others = kernel.othersNexthops;
  let ids = kernel.othersIds;
  const forget = (nexthop: KernelNexthop) => {
    gone.add(nexthop.id);
    others = hmDelete(others, String(nexthop.id));
    ids = hmDelete(ids, String(nexthop.id));
  };
  for (const nexthop of hmValues(others)) if (deviceOf(nexthop) === dev) forget(nexthop);
  // A group holds single nexthops only (Linux refuses a group in a group): one pass settles them.
  for (const nexthop of hmValues(others)) {
    if (nexthop.kind !== "group") continue;
    const members = nexthop.members.filter((member) => !gone.has(member.id));
    if (members.length === 0) forget(nexthop);
    else if (members.length < nexthop.members.length)
      others = hmSet(others, String(nexthop.id), { ...nexthop, members });
  }
  if (others === kernel.othersNexthops) return kernel;
  return { ...kernel, othersIds: ids, othersNexthops: others };
}
