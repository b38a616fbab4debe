import { describe, expect, it } from "vitest";
import type { DumpResult } from "../src/connection.ts";
import { DUMP_ATTEMPTS, dumpWithRetries } from "../src/dump-retry.ts";
import { resilientGroupsFromProbe } from "../src/features.ts";

function scripted(results: DumpResult[]): { dump: () => Promise<DumpResult>; calls: () => number } {
  let calls = 0;
  return {
    dump: async () => results[Math.min(calls++, results.length - 1)] as DumpResult,
    calls: () => calls,
  };
}

const clean: DumpResult = { messages: [], interrupted: false };
const interrupted: DumpResult = { messages: [], interrupted: true };

describe("dumpWithRetries", () => {
  it("retries an interrupted dump and returns the first clean one", async () => {
    const s = scripted([interrupted, interrupted, clean]);
    expect(await dumpWithRetries(s.dump)).toBe(clean);
    expect(s.calls()).toBe(3);
  });

  it("gives up after the attempts, still flagged interrupted", async () => {
    const s = scripted([interrupted]);
    expect((await dumpWithRetries(s.dump)).interrupted).toBe(true);
    expect(s.calls()).toBe(DUMP_ATTEMPTS);
  });

  it("does not retry a clean dump or a failed one", async () => {
    const once = scripted([clean]);
    await dumpWithRetries(once.dump);
    expect(once.calls()).toBe(1);
    const failed: DumpResult = {
      messages: [],
      interrupted: true,
      error: { error: -22, request: { length: 16, type: 26, flags: 0, seq: 1, pid: 0 } },
    };
    const failing = scripted([failed]);
    expect(await dumpWithRetries(failing.dump)).toBe(failed);
    expect(failing.calls()).toBe(1);
  });
});

describe("resilientGroupsFromProbe", () => {
  const refusal = (errno: number, extackMessage?: string) => ({
    error: -errno,
    request: { length: 16, type: 104, flags: 0, seq: 1, pid: 0 },
    ...(extackMessage === undefined ? {} : { extackMessage }),
  });
  it("reads only a refusal after the group type as support; the group type or anything else as none", () => {
    expect(resilientGroupsFromProbe(refusal(22, "Invalid group type"))).toBe(false);
    expect(resilientGroupsFromProbe(refusal(95))).toBe(false);
    expect(resilientGroupsFromProbe(refusal(1))).toBe(false); // EPERM: no CAP_NET_ADMIN
    expect(resilientGroupsFromProbe(refusal(105, "netlink: ENOBUFS before the kernel answered"))).toBe(false);
    expect(resilientGroupsFromProbe(refusal(22, "Invalid nexthop id"))).toBe(true);
    expect(resilientGroupsFromProbe(refusal(2, "Replace specified without create and no entry exists"))).toBe(
      true,
    );
  });
});
