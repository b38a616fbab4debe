/**
 * `--dry-run`: a Dataplane that reads the real kernel but writes nothing. Each apply
 * answers success for every op, so the engine believes (and reports) what it would
 * have written, once; the next full resync shows the real kernel again, and the
 * engine reports the same ops again then.
 */
import type { Dataplane, Op, OpResult } from "@kroute/core";

export function dryRunDataplane(real: Dataplane, report: (ops: readonly Op[]) => void): Dataplane {
  return {
    features: () => real.features(),
    list: (scope) => real.list(scope),
    watch: () => real.watch(),
    lookup: (query) => real.lookup(query),
    getMultipathHashPolicy: (family) => real.getMultipathHashPolicy(family),
    async setMultipathHashPolicy() {
      // a sysctl is a write too
    },
    async apply(ops): Promise<OpResult[]> {
      report(ops);
      return ops.map(() => ({ ok: true }));
    },
    close: () => real.close(),
  };
}
