/**
 * What this kernel supports, probed rather than assumed.
 *
 * Nexthop objects exist when a nexthop dump is accepted.
 *
 * Resilient groups (5.13) are probed with a request the kernel must refuse, so the
 * probe never creates anything (it also runs under --dry-run): a replace, without
 * create, of a nexthop id the dump shows absent, as a resilient group whose only
 * member is that same absent id. The kernel validates the group type while parsing
 * the request, before it looks up any id: a kernel without resilient groups stops
 * there ("Invalid group type"), one that has them gets further and refuses the
 * missing member instead.
 */
import type { DataplaneFeatures } from "@kroute/core";
import { NEXTHOP_GRP_TYPE_RES, NLM_F_REPLACE, RTM_DELNEXTHOP, RTM_NEWNEXTHOP } from "./codec/constants.ts";
import type { ErrorMessage } from "./codec/error.ts";
import type { NetlinkConnection, Request } from "./connection.ts";
import { AF_UNSPEC, EINVAL, ENOENT } from "./ffi.ts";
import { NEXTHOP_DUMP } from "./snapshot.ts";

/**
 * Whether the kernel's answer to the resilient-group probe shows it got past the group
 * type. Only the refusals that come after it count (the missing member, or the absent
 * id itself); anything else (EPERM without CAP_NET_ADMIN, "Invalid group type", a lost
 * answer) says nothing, so the answer is no and plain groups are used.
 */
export function resilientGroupsFromProbe(error: ErrorMessage | undefined): boolean {
  if (error === undefined) return true;
  const errno = -error.error;
  if (errno === ENOENT) return true;
  return errno === EINVAL && /nexthop id/i.test(error.extackMessage ?? "");
}

/** The lowest id from the top of the u32 range down that no nexthop holds. */
function absentId(taken: ReadonlySet<number>): number {
  let id = 0xffffffff;
  while (taken.has(id)) id--;
  return id;
}

function probeRequest(id: number): Request {
  return {
    type: RTM_NEWNEXTHOP,
    flags: NLM_F_REPLACE,
    body: {
      kind: "nexthop",
      nexthop: {
        family: AF_UNSPEC,
        scope: 0,
        protocol: 0,
        flags: 0,
        id,
        group: [{ id, weight: 1 }],
        groupType: NEXTHOP_GRP_TYPE_RES,
      },
    },
  };
}

export async function probeFeatures(connection: NetlinkConnection): Promise<DataplaneFeatures> {
  const dump = await connection.dump(NEXTHOP_DUMP);
  if (dump.error !== undefined) return { nexthopObjects: false, resilientGroups: false };
  const taken = new Set<number>();
  for (const m of dump.messages)
    if (m.body.kind === "nexthop" && m.body.nexthop.id !== undefined) taken.add(m.body.nexthop.id);
  const id = absentId(taken);
  const { error } = await connection.request(probeRequest(id));
  if (error === undefined) {
    // Not expected of any kernel (replace without create of an absent id); undo it all the same.
    await connection.request({
      type: RTM_DELNEXTHOP,
      flags: 0,
      body: { kind: "nexthop", nexthop: { family: AF_UNSPEC, scope: 0, protocol: 0, flags: 0, id } },
    });
  }
  return { nexthopObjects: true, resilientGroups: resilientGroupsFromProbe(error) };
}
