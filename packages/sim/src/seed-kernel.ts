/**
 * Seeding a fake kernel from a recorded dump: the owned objects a recorded agent found
 * at start (a restart adopting its routes) are installed before the replay plans, and
 * so are the others' nexthops the dump shows (the agent dumps those at ids of its range):
 * the core lays its objects out around them, and without them the replay would move
 * the adopted objects to ids the recording agent could not use. So are others' routes
 * through those ids, which the dump shows for the nexthops of kroute's they keep.
 */
import type { KernelNexthop, KernelSnapshot, Op } from "@kroute/core";
import type { FakeKernel } from "@kroute/driver-fake";
import { formatOp } from "./format.ts";

/** Installs the snapshot's owned objects and its nexthops; returns the problems of those that would not install. */
export function seedKernel(
  kernel: FakeKernel,
  snapshot: KernelSnapshot,
  owned: (protocol: number) => boolean,
  inIdRange: (id: number) => boolean,
): string[] {
  const seeded = (nh: KernelNexthop) => owned(nh.protocol) || inIdRange(nh.id);
  // Single nexthops (others' blackholes included) before the groups that may name them,
  // and all before the routes.
  const ops: Op[] = [
    ...snapshot.nexthops
      .filter((nh) => seeded(nh) && nh.kind !== "group")
      .map((to) => ({ object: "nexthop" as const, action: "add" as const, to })),
    ...snapshot.nexthops
      .filter((nh) => seeded(nh) && nh.kind === "group")
      .map((to) => ({ object: "nexthop" as const, action: "add" as const, to })),
    // Others' routes through ids of kroute's range too: the dump shows them because they
    // keep kroute's nexthops there (core nexthop-users.ts); without them the replay would
    // delete what the recording agent kept, and Linux would flush them with it.
    ...snapshot.routes
      .filter((r) => owned(r.protocol) || (r.target.kind === "nexthop-object" && inIdRange(r.target.id)))
      .map((to) => ({ object: "route" as const, action: "add" as const, to })),
    ...snapshot.rules
      .filter((r) => owned(r.protocol))
      .map((to) => ({ object: "rule" as const, action: "add" as const, to })),
  ];
  const problems: string[] = [];
  kernel.applySync(ops).forEach((result, i) => {
    if (!result.ok)
      problems.push(
        `recorded kernel state cannot be installed: ${formatOp(ops[i] as Op)}: ${result.message}`,
      );
  });
  return problems;
}
