/**
 * Seeding a fake kernel from a recorded dump: the owned objects a recorded agent found
 * at start (a restart adopting its routes) are installed before the replay plans.
 */
import type { KernelSnapshot, Op } from "@kroute/core";
import type { FakeKernel } from "@kroute/driver-fake";
import { formatOp } from "./format.ts";

/** Installs the snapshot's owned objects; returns the problems of those that would not install. */
export function seedKernel(
  kernel: FakeKernel,
  snapshot: KernelSnapshot,
  owned: (protocol: number) => boolean,
): string[] {
  // Gateway nexthops before the groups that name them, and both before the routes.
  const ops: Op[] = [
    ...snapshot.nexthops
      .filter((nh) => owned(nh.protocol) && nh.kind === "gateway")
      .map((to) => ({ object: "nexthop" as const, action: "add" as const, to })),
    ...snapshot.nexthops
      .filter((nh) => owned(nh.protocol) && nh.kind === "group")
      .map((to) => ({ object: "nexthop" as const, action: "add" as const, to })),
    ...snapshot.routes
      .filter((r) => owned(r.protocol))
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
