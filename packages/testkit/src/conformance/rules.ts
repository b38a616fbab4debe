/** Policy rules: no replace in Linux, EEXIST and ENOENT, the protocol part of identity. */
import type { KernelRule } from "@kroute/core";
import { describe, expect, it } from "vitest";
import type { ConformanceHarness } from "./harness.ts";
import { ruleAdd, ruleDelete } from "./ops.ts";
import { expectErrno, expectOk, MAIN, OTHER_PROTO, PROTO, prefix, TABLE } from "./support.ts";

const FROM_KR0: KernelRule = {
  family: 4,
  priority: 1000,
  src: prefix("10.10.0.0/24"),
  table: TABLE,
  protocol: PROTO,
};
const FROM_KR0_V6: KernelRule = {
  family: 6,
  priority: 1000,
  src: prefix("fd10::/64"),
  table: TABLE,
  protocol: PROTO,
};

export function ruleConformance(harness: () => ConformanceHarness): void {
  describe("policy rules", () => {
    it("starts with the kernel's default rules, protocol kernel", async () => {
      const h = harness();
      const snapshot = await h.dataplane.list({ protocols: [2] });
      expect(snapshot.rules).toEqual(
        expect.arrayContaining([
          { family: 4, priority: 32766, table: MAIN, protocol: 2 },
          { family: 6, priority: 32766, table: MAIN, protocol: 2 },
        ]),
      );
    });

    it("adds, dumps by protocol and deletes rules of both families", async () => {
      const h = harness();
      expectOk(await h.dataplane.apply([ruleAdd(FROM_KR0), ruleAdd(FROM_KR0_V6)]));
      expect((await h.dataplane.list({ protocols: [PROTO] })).rules).toEqual([FROM_KR0, FROM_KR0_V6]);
      expect((await h.dataplane.list({ protocols: [PROTO], families: [6] })).rules).toEqual([FROM_KR0_V6]);
      expectOk(await h.dataplane.apply([ruleDelete(FROM_KR0), ruleDelete(FROM_KR0_V6)]));
      expect((await h.dataplane.list({ protocols: [PROTO] })).rules).toEqual([]);
    });

    it("an identical rule is EEXIST; one differing only by protocol is another rule", async () => {
      const h = harness();
      const foreign = { ...FROM_KR0, protocol: OTHER_PROTO };
      expectOk(await h.dataplane.apply([ruleAdd(FROM_KR0)]));
      expectErrno((await h.dataplane.apply([ruleAdd(FROM_KR0)]))[0], "EEXIST", "File exists");
      expectOk(await h.dataplane.apply([ruleAdd(foreign)]));
      expect((await h.dataplane.list({ protocols: [OTHER_PROTO] })).rules).toEqual([foreign]);
    });

    it("deleting a missing rule is ENOENT, and names the protocol", async () => {
      const h = harness();
      expectErrno(
        (await h.dataplane.apply([ruleDelete(FROM_KR0)]))[0],
        "ENOENT",
        "No such file or directory",
      );
      expectOk(await h.dataplane.apply([ruleAdd({ ...FROM_KR0, protocol: OTHER_PROTO })]));
      expectErrno((await h.dataplane.apply([ruleDelete(FROM_KR0)]))[0], "ENOENT");
    });
  });
}
