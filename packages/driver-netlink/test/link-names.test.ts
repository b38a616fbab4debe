/**
 * The ifindex ↔ name table a link dump refreshes: a whole dump replaces it (links gone
 * since are forgotten), a partial one (interrupted or failed) only adds to it, since a
 * link it did not list may well still be there.
 */
import { describe, expect, it } from "vitest";
import { RTM_GETLINK, RTM_NEWLINK } from "../src/codec/constants.ts";
import type { ErrorMessage } from "../src/codec/error.ts";
import type { DumpResult, NetlinkConnection } from "../src/connection.ts";
import { LinkTable } from "../src/domain/names.ts";
import { AF_UNSPEC } from "../src/ffi.ts";
import { dumpLinks } from "../src/snapshot.ts";

/** A connection whose every dump lists one link, eth1 at ifindex 3, and ends as `ending` says. */
function listingEth1(ending: Pick<DumpResult, "interrupted" | "error">): NetlinkConnection {
  const result: DumpResult = {
    ...ending,
    messages: [
      {
        type: RTM_NEWLINK,
        flags: 0,
        seq: 1,
        pid: 0,
        body: {
          kind: "link",
          link: { family: AF_UNSPEC, type: 1, index: 3, flags: 0, change: 0, name: "eth1" },
        },
      },
    ],
  };
  return { dump: async () => result } as unknown as NetlinkConnection;
}

function tableWithEth0(): LinkTable {
  const names = new LinkTable();
  names.set(2, "eth0");
  return names;
}

describe("link dumps and the name table", () => {
  it("a whole dump replaces the table", async () => {
    const names = tableWithEth0();
    const dumped = await dumpLinks(listingEth1({ interrupted: false }), names);
    expect(dumped.complete).toBe(true);
    expect([names.indexOf("eth0"), names.indexOf("eth1")]).toEqual([undefined, 3]);
  });

  it("an interrupted dump adds what it listed and forgets nothing", async () => {
    const names = tableWithEth0();
    const dumped = await dumpLinks(listingEth1({ interrupted: true }), names);
    expect(dumped.complete).toBe(false);
    expect([names.indexOf("eth0"), names.indexOf("eth1")]).toEqual([2, 3]);
  });

  it("a failed dump forgets nothing either", async () => {
    const names = tableWithEth0();
    const failed: ErrorMessage = {
      error: -105, // ENOBUFS
      request: { length: 0, type: RTM_GETLINK, flags: 0, seq: 1, pid: 0 },
    };
    const dumped = await dumpLinks(listingEth1({ interrupted: false, error: failed }), names);
    expect(dumped.complete).toBe(false);
    expect(names.indexOf("eth0")).toBe(2);
  });
});
