/**
 * The override check after a step (check-override.ts overrideProblems), kept from the
 * last step that ran it. The check looks up every protected address and reply probe in
 * the kernel, at every step that writes ops (a sixth of a Route upsert's time), though
 * most steps write only routes that hold none of them. A problem that persists is
 * reported at every such step: the kept answer is reported again, as a new check would.
 *
 * The kept answer stands while nothing it was read from changed: the host facts, kroute's
 * metric, which owned default routes are overrides (the core's claims can make a half an
 * override's or a Route's own without a write), and the kernel, which only kroute's ops
 * (noteOps) and changes made outside them (forget) write.
 */
import type { EventOf, KernelRoute, Op } from "@kroute/core";
import type { FakeKernel } from "@kroute/driver-fake";
import { mayChangeOverrideAnswer, type OverrideTest, overrideProblems } from "./check-override.ts";
import type { OwnedMirror } from "./mirror.ts";

type Host = EventOf<"host/observed">;

interface Kept {
  readonly host: Host | undefined;
  readonly metric: number;
  readonly overrides: readonly KernelRoute[];
  readonly problems: ReadonlyMap<string, string>;
}

export class KeptOverrideCheck {
  private kept: Kept | undefined;

  /** The kernel was written other than by kroute's ops (a seed, a change behind its back). */
  forget(): void {
    this.kept = undefined;
  }

  /** kroute's ops, about to be applied: the kept answer goes if one can move a lookup. */
  noteOps(ops: readonly Op[], host: Host | undefined): void {
    if (this.kept !== undefined && ops.some((op) => mayChangeOverrideAnswer(op, host))) this.kept = undefined;
  }

  problems(
    kernel: FakeKernel,
    host: Host | undefined,
    owned: OwnedMirror,
    isOverride: OverrideTest,
    metric: number,
  ): ReadonlyMap<string, string> {
    const overrides = [...owned.defaultRoutes.values()].filter(isOverride);
    const kept = this.kept;
    if (
      kept !== undefined &&
      kept.host === host &&
      kept.metric === metric &&
      kept.overrides.length === overrides.length &&
      kept.overrides.every((route, i) => route === overrides[i])
    )
      return kept.problems;
    const problems = overrideProblems(kernel, host, owned, isOverride, metric);
    this.kept = { host, metric, overrides, problems };
    return problems;
  }
}
