/**
 * The agent's flags and how they are read: a flag `--some-flag` wins over the
 * environment's `KROUTE_SOME_FLAG`, which is how the Helm chart passes values.
 */
import { parseArgs } from "node:util";
import { SettingsError } from "./settings-error.ts";

export const FLAGS = {
  "node-name": { type: "string" },
  "api-group": { type: "string" },
  "api-server-namespace": { type: "string" },
  protocol: { type: "string" },
  "adopt-protocol": { type: "string" },
  /** `cleanup` only: the protocols whose objects it removes. */
  protocols: { type: "string" },
  metric: { type: "string" },
  "table-reply": { type: "string" },
  "route-tables": { type: "string" },
  "max-destinations": { type: "string" },
  "nexthop-mode": { type: "string" },
  "resilient-buckets": { type: "string" },
  "resilient-idle-timer": { type: "string" },
  "multipath-hash-policy": { type: "string" },
  "probe-interval": { type: "string" },
  "probe-timeout": { type: "string" },
  "probe-fall": { type: "string" },
  "probe-rise": { type: "string" },
  protect: { type: "string", multiple: true },
  "keep-original": { type: "string", multiple: true },
  "resolv-conf": { type: "string", multiple: true },
  "host-root": { type: "string" },
  "metadata-address": { type: "string" },
  "resync-interval": { type: "string" },
  "metrics-address": { type: "string" },
  "health-address": { type: "string" },
  "dry-run": { type: "boolean" },
  "optimizing-compilers": { type: "boolean" },
  record: { type: "string" },
  netns: { type: "string" },
  kubeconfig: { type: "string" },
  "log-level": { type: "string" },
} as const;

export type FlagName = keyof typeof FLAGS;

export type RawFlags = {
  [K in FlagName]?: (typeof FLAGS)[K] extends { multiple: true } ? string[] : string | boolean;
};

function envName(flag: FlagName): string {
  return `KROUTE_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/**
 * Reads the `allowed` flags and hands them to `parse`. A value `parse` refuses is named
 * as it was given: `--flag` from the command line, `KROUTE_FLAG (--flag)` from the
 * environment (where the Helm chart puts most values, so the operator never typed the
 * flag).
 */
export function parseFlags<T>(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  allowed: readonly FlagName[],
  parse: (raw: RawFlags) => T,
): T {
  const fromEnvironment = new Set<string>();
  const raw = readFlags(argv, env, allowed, fromEnvironment);
  try {
    return parse(raw);
  } catch (error) {
    const refused = error instanceof SettingsError ? error.refused : undefined;
    if (refused === undefined || !fromEnvironment.has(refused.flag)) throw error;
    throw new SettingsError(
      `${envName(refused.flag as FlagName)} (--${refused.flag}): ${JSON.stringify(refused.value)} ${refused.why}`,
      refused,
    );
  }
}

/** The `allowed` flags as given, from argv or else the environment; unknown flags are a SettingsError. */
function readFlags(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  allowed: readonly FlagName[],
  fromEnvironment: Set<string>,
): RawFlags {
  const options = Object.fromEntries(allowed.map((name) => [name, FLAGS[name]]));
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new SettingsError(error instanceof Error ? error.message : String(error));
  }
  const raw: Record<string, unknown> = {};
  for (const name of allowed) {
    const fromFlag = parsed.values[name];
    if (fromFlag !== undefined) {
      raw[name] = fromFlag;
      continue;
    }
    const fromEnv = env[envName(name)];
    if (fromEnv === undefined || fromEnv === "") continue;
    fromEnvironment.add(name);
    const spec: { type: string; multiple?: boolean } = FLAGS[name];
    if (spec.multiple === true) raw[name] = fromEnv.split(",").map((s) => s.trim());
    else if (spec.type === "boolean") raw[name] = parseBoolean(name, fromEnv);
    else raw[name] = fromEnv;
  }
  return raw as RawFlags;
}

function parseBoolean(flag: FlagName, text: string): boolean {
  if (/^(1|true|yes)$/i.test(text)) return true;
  if (/^(0|false|no)$/i.test(text)) return false;
  throw new SettingsError(
    `${envName(flag)} (--${flag}): ${JSON.stringify(text)} is not a boolean: use true or false`,
  );
}
