import { DEFAULT_SETTINGS } from "@kroute/core";
import { type FlagName, parseFlags } from "./flags.ts";
import { protocolNumber } from "./ownership-numbers.ts";
import { netnsName } from "./values.ts";

/**
 * Settings of `kroute-agent cleanup`: only what is needed to find kroute's objects.
 * Routes and rules are found by protocol in every table, the reply table's included.
 */
export interface CleanupSettings {
  readonly protocol: number;
  readonly nexthopIdBase: number;
  readonly nexthopIdCount: number;
  readonly netns?: string;
  readonly dryRun: boolean;
}

const CLEANUP_FLAGS: readonly FlagName[] = ["protocol", "netns", "dry-run"];

/** Parses `kroute-agent cleanup` flags: protocol, namespace, dry run. */
export function parseCleanupSettings(argv: readonly string[], env: NodeJS.ProcessEnv): CleanupSettings {
  return parseFlags(argv, env, CLEANUP_FLAGS, (raw) => {
    const netns = netnsName(raw);
    return {
      protocol: protocolNumber(raw),
      nexthopIdBase: DEFAULT_SETTINGS.nexthopIdBase,
      nexthopIdCount: DEFAULT_SETTINGS.nexthopIdCount,
      dryRun: raw["dry-run"] === true,
      ...(netns !== undefined ? { netns } : {}),
    };
  });
}
