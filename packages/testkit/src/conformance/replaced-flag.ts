/**
 * Which route notifications say the route took the place of one at its key
 * (`replaced`, NLM_F_REPLACE on Linux): a replace or `ip route change` does; an add,
 * a replace at a free key, an append or a prepend do not, and for those the key's
 * other routes stay. kroute's view depends on telling them apart: another program's
 * route at kroute's key is news that kroute's route is gone only when it replaced it.
 * An append at a taken key says so (`appended`, NLM_F_APPEND): an IPv4 prepend, which
 * does not, puts the route first, where a later replace takes it rather than kroute's.
 * Flags read with a netlink listener on Linux 6.18.
 */
import type { KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { routeReplace } from "./ops.ts";
import { expectOk, notificationBarrier, OTHER_PROTO, PROTO, recordChanges, viaRoute } from "./support.ts";

/** Each route notification about `dst`, as "new <protocol>" with " replaced" or " appended" when flagged. */
async function announcedFlags(
  h: ConformanceHarness,
  dst: string,
  steps: () => Promise<void>,
): Promise<string[]> {
  const recorder = recordChanges(h);
  await steps();
  await notificationBarrier(h, recorder.changes);
  recorder.stop();
  return recorder.changes.flatMap((change) =>
    change.kind === "route" && change.route.dst === dst
      ? [
          `${change.action} ${change.route.protocol}${change.replaced === true ? " replaced" : ""}${
            change.appended === true ? " appended" : ""
          }`,
        ]
      : [],
  );
}

export function replacedFlagConformance(harness: () => ConformanceHarness): void {
  describe("route notifications flag a replace", () => {
    const cases = [
      { family: "IPv4", dst: "192.0.2.0/24", gateways: ["10.10.0.2", "10.10.0.3", "10.10.0.4", "10.10.0.5"] },
      { family: "IPv6", dst: "2001:db8:1::/64", gateways: ["fd10::2", "fd10::3", "fd10::4", "fd10::5"] },
    ] as const;
    for (const { family, dst, gateways } of cases) {
      it(`${family}: a replace and a change are flagged replaced; an append at a taken key appended; an add and a prepend neither`, async () => {
        const h = harness();
        const [a, b, c, d] = gateways;
        const ours = viaRoute(dst, [[a, "kr0"]]);
        const moved = viaRoute(dst, [[b, "kr0"]]);
        const theirs = (gateway: string): KernelRoute =>
          viaRoute(dst, [[gateway, "kr0"]], { protocol: OTHER_PROTO });
        const flags = await announcedFlags(h, dst, async () => {
          // A replace at a free key is an add to Linux (NLM_F_CREATE|NLM_F_EXCL).
          expectOk(await h.dataplane.apply([routeReplace(ours, ours)]));
          expectOk(await h.dataplane.apply([routeReplace(ours, moved)]));
          expectOk([await h.othersRouteRequest(theirs(c), "append")]);
          expectOk([await h.othersRouteRequest(theirs(d), "prepend")]);
        });
        expect(flags).toEqual([
          `new ${PROTO}`,
          `new ${PROTO} replaced`,
          `new ${OTHER_PROTO} appended`,
          `new ${OTHER_PROTO}`,
        ]);
        // `ip route change`: the key's first route (IPv4), or its inline route (IPv6), replaced.
        const changed = await announcedFlags(h, dst, async () => {
          expectOk([await h.othersRouteRequest(theirs(a), "change")]);
        });
        expect(changed).toEqual([`new ${OTHER_PROTO} replaced`]);
      });
    }
  });
}
