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
 * As dropEverything, but only from `atMs` (ms since the epoch, a whole second: nft
 * compares with seconds): the kernel starts dropping at that instant by its own clock,
 * however long loading the rules took, so a test knows exactly when the failure began.
 */
export async function dropEverythingFrom(ns: Netns, atMs: number): Promise<void> {
  if (!Number.isInteger(atMs / 1000)) {
    throw new Error(`dropEverythingFrom: atMs must be a whole second since the epoch, got ${String(atMs)}`);
  }
  const from = `meta time >= ${String(atMs / 1000)} drop;`;
  await load(ns, [
    `table inet ${DROP_TABLE} {`,
    `  chain input { type filter hook input priority -500; policy accept; ${from} }`,
    `  chain forward { type filter hook forward priority -500; policy accept; ${from} }`,
    `  chain output { type filter hook output priority -500; policy accept; ${from} }`,
    "}",
  ]);
}

/** Undoes dropEverything. */
export async function stopDropping(ns: Netns): Promise<void> {
  await ns.exec("nft", ["delete", "table", "inet", DROP_TABLE]);
}
