import { DEFAULT_SETTINGS, krouteProtocols } from "@kroute/core";
import { type FlagName, parseFlags, type RawFlags } from "./flags.ts";
import { adoptProtocolNumber, checkedProtocol, protocolNumber } from "./ownership-numbers.ts";
import { fail } from "./settings-error.ts";
import { netnsName, str } from "./values.ts";

/**
 * Settings of `kroute-agent cleanup`: only what is needed to find kroute's objects.
 * Routes and rules are found by protocol in every table, the reply table's included.
 */
export interface CleanupSettings {
  /**
   * The protocols whose objects are removed: --protocols, or else the ones the agent
   * owns with the same flags (--protocol and --adopt-protocol, core's krouteProtocols).
   */
  readonly protocols: readonly number[];
  readonly nexthopIdBase: number;
  readonly nexthopIdCount: number;
  readonly netns?: string;
  readonly dryRun: boolean;
}

export const CLEANUP_FLAGS: readonly FlagName[] = [
  "protocol",
  "adopt-protocol",
  "protocols",
  "netns",
  "dry-run",
];

/** Parses `kroute-agent cleanup` flags: protocols, namespace, dry run. */
export function parseCleanupSettings(argv: readonly string[], env: NodeJS.ProcessEnv): CleanupSettings {
  return parseFlags(argv, env, CLEANUP_FLAGS, (raw) => {
    const netns = netnsName(raw);
    return {
      protocols: cleanupProtocols(raw),
      nexthopIdBase: DEFAULT_SETTINGS.nexthopIdBase,
      nexthopIdCount: DEFAULT_SETTINGS.nexthopIdCount,
      dryRun: raw["dry-run"] === true,
      ...(netns !== undefined ? { netns } : {}),
    };
  });
}

/**
 * --protocols "201,202", each a protocol kroute may have used; or else the agent's own
 * (--protocol, default 201) and the one it hands over from (--adopt-protocol). Not both
 * ways at once: which would be meant is not clear.
 */
function cleanupProtocols(raw: RawFlags): number[] {
  const list = str(raw, "protocols");
  if (list === undefined) {
    const protocol = protocolNumber(raw);
    const adoptProtocol = adoptProtocolNumber(raw, protocol);
    return krouteProtocols(adoptProtocol === undefined ? { protocol } : { protocol, adoptProtocol });
  }
  for (const single of ["protocol", "adopt-protocol"] as const) {
    if (str(raw, single) !== undefined)
      fail("protocols", list, `names the protocols itself: give it or --${single}, not both`);
  }
  const protocols = list.split(",").map((item) => checkedProtocol("protocols", list, item));
  return [...new Set(protocols)];
}
