/**
 * The nftables rulesets a lab gateway needs, one place for every topology: source NAT
 * towards its uplink (the static egress IP), and a drop-everything table that fails it
 * while its link and neighbour entries stay valid, the failure only probes can see.
 */
import type { Netns } from "./netns.ts";

const NAT_TABLE = "kr_nat";
const DROP_TABLE = "kr_kill";

/** Loads a ruleset into a namespace (`nft -f -`). */
async function load(ns: Netns, ruleset: readonly string[]): Promise<void> {
  await ns.exec("nft", ["-f", "-"], { input: `${ruleset.join("\n")}\n` });
}

/** Masquerades everything leaving through `uplink`: the far side sees this namespace's address. */
export async function masqueradeVia(ns: Netns, uplink: string): Promise<void> {
  await load(ns, [
    `table inet ${NAT_TABLE} {`,
    "  chain postrouting {",
    "    type nat hook postrouting priority srcnat; policy accept;",
    `    oifname "${uplink}" masquerade`,
    "  }",
    "}",
  ]);
}

/** Drops every packet in, through and out of the namespace; links stay up. */
export async function dropEverything(ns: Netns): Promise<void> {
  await load(ns, [
    `table inet ${DROP_TABLE} {`,
    "  chain input { type filter hook input priority -500; policy drop; }",
    "  chain forward { type filter hook forward priority -500; policy drop; }",
    "  chain output { type filter hook output priority -500; policy drop; }",
    "}",
  ]);
}

/**
 * As dropEverything, but only from `atMs` and, given `untilMs`, only until then (ms
 * since the epoch, whole seconds: nft compares with seconds): the kernel starts and
 * stops dropping at those instants by its own clock, however long loading the rules
 * took, so a test knows exactly when the failure began and ended.
 */
export async function dropEverythingFrom(ns: Netns, atMs: number, untilMs?: number): Promise<void> {
  const second = (name: string, ms: number) => {
    if (!Number.isInteger(ms / 1000)) {
      throw new Error(
        `dropEverythingFrom: ${name} must be a whole second since the epoch, got ${String(ms)}`,
      );
    }
    return String(ms / 1000);
  };
  let window = `meta time >= ${second("atMs", atMs)}`;
  if (untilMs !== undefined) {
    if (!(untilMs > atMs)) {
      throw new Error(
        `dropEverythingFrom: untilMs must be after atMs (${String(atMs)}), got ${String(untilMs)}`,
      );
    }
    window += ` meta time < ${second("untilMs", untilMs)}`;
  }
  const drop = `${window} drop;`;
  await load(ns, [
    `table inet ${DROP_TABLE} {`,
    `  chain input { type filter hook input priority -500; policy accept; ${drop} }`,
    `  chain forward { type filter hook forward priority -500; policy accept; ${drop} }`,
    `  chain output { type filter hook output priority -500; policy accept; ${drop} }`,
    "}",
  ]);
}

/** Undoes dropEverything. */
export async function stopDropping(ns: Netns): Promise<void> {
  await ns.exec("nft", ["delete", "table", "inet", DROP_TABLE]);
}
