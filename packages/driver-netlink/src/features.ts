/**
 * What this kernel supports, probed rather than assumed: nexthop objects exist when
 * a nexthop dump is accepted. Resilient groups (5.13) have no probe without side
 * effects (one would have to create a group), so they are inferred from nexthop
 * support plus the kernel release.
 */
import { release } from "node:os";
import type { DataplaneFeatures } from "@kroute/core";
import type { NetlinkConnection } from "./connection.ts";
import { NEXTHOP_DUMP } from "./snapshot.ts";

export function releaseAtLeast(text: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = text.split(/[.-]/).map((part) => Number.parseInt(part, 10));
  return a > major || (a === major && b >= minor);
}

export async function probeFeatures(connection: NetlinkConnection): Promise<DataplaneFeatures> {
  const probe = await connection.dump(NEXTHOP_DUMP);
  const nexthopObjects = probe.error === undefined;
  return { nexthopObjects, resilientGroups: nexthopObjects && releaseAtLeast(release(), 5, 13) };
}
