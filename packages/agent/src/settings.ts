/**
 * The agent's settings, from command-line flags and the environment (flags win).
 *
 * Everything is validated at start: a bad value is a SettingsError naming the flag
 * and the value, and main exits with status 2 before touching anything. Every flag
 * `--some-flag` can also come from the environment as `KROUTE_SOME_FLAG`, which is
 * how the Helm chart passes values; the node name comes from `NODE_NAME` (the
 * downward API).
 */
import { parseArgs } from "node:util";
import {
  DEFAULT_SETTINGS,
  type EngineSettings,
  type IpAddr,
  type MultipathHashPolicy,
  type Prefix,
  parseIp,
  parsePrefix,
} from "@kroute/core";

export const API_GROUPS = ["networking.kroute.dev", "networking.doks.digitalocean.com"] as const;
export type ApiGroup = (typeof API_GROUPS)[number];

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface ProbeSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failures before a gateway is down. */
  readonly fall: number;
  /** Consecutive successes before a down gateway is up again. */
  readonly rise: number;
}

export interface AgentSettings {
  readonly nodeName: string;
  readonly apiGroup: ApiGroup;
  readonly apiVersion: "v1alpha1";
  /**
   * Namespace of the `kubernetes` Service: its EndpointSlices name the API servers, and
   * Events about the cluster-scoped Routes and Node are written there (the Helm chart's
   * Role is in this namespace).
   */
  readonly apiServerNamespace: string;
  /** `auto` picks nexthop groups when the kernel has nexthop objects, multipath otherwise. */
  readonly nexthopMode: "auto" | "groups" | "multipath";
  /** What the engine computes with; nexthopMode/resilient are final only after feature detection. */
  readonly engine: EngineSettings;
  readonly multipathHashPolicy: MultipathHashPolicy;
  readonly probe: ProbeSettings;
  readonly metadataAddress: IpAddr;
  /** Extra destinations kept on the original default gateway under a default-route override. */
  readonly keepOriginal: readonly Prefix[];
  /** The host's resolv.conf files (mounted from the node): their nameservers stay on the original gateway. */
  readonly resolvConf: readonly string[];
  readonly resyncIntervalMs: number;
  readonly metricsAddress: ListenAddress;
  readonly healthAddress: ListenAddress;
  readonly dryRun: boolean;
  readonly recordFile?: string;
  readonly netns?: string;
  readonly kubeconfig?: string;
  readonly logLevel: LogLevel;
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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

/** A setting that cannot be used; main reports its message (which names the flag) and exits 2. */
export class SettingsError extends Error {
  override readonly name: string = "SettingsError";
}

/**
 * Route protocol numbers registered in iproute2's rt_protos (and the kernel's
 * reserved 0..4): owning routes under one of these would make kroute delete
 * someone else's routes.
 */
const WELL_KNOWN_PROTOCOLS: Readonly<Record<number, string>> = {
  0: "unspec",
  1: "redirect",
  2: "kernel",
  3: "boot",
  4: "static",
  8: "gated",
  9: "ra",
  10: "mrt",
  11: "zebra",
  12: "bird",
  13: "dnrouted",
  14: "xorp",
  15: "ntk",
  16: "dhcp",
  17: "mrouted",
  18: "keepalived",
  42: "babel",
  99: "openr",
  186: "bgp",
  187: "isis",
  188: "ospf",
  189: "rip",
  192: "eigrp",
};

/** Tables the kernel itself uses; the reply table must be none of them. */
const RESERVED_TABLES: Readonly<Record<number, string>> = {
  0: "unspec",
  253: "default",
  254: "main",
  255: "local",
};

const FLAGS = {
  "node-name": { type: "string" },
  "api-group": { type: "string" },
  "api-server-namespace": { type: "string" },
  protocol: { type: "string" },
  metric: { type: "string" },
  "table-reply": { type: "string" },
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
  "metadata-address": { type: "string" },
  "resync-interval": { type: "string" },
  "metrics-address": { type: "string" },
  "health-address": { type: "string" },
  "dry-run": { type: "boolean" },
  record: { type: "string" },
  netns: { type: "string" },
  kubeconfig: { type: "string" },
  "log-level": { type: "string" },
} as const;

type FlagName = keyof typeof FLAGS;

const CLEANUP_FLAGS: readonly FlagName[] = ["protocol", "netns", "dry-run"];

export const USAGE = `usage: kroute-agent [flags]        run the agent (NODE_NAME must be set)
       kroute-agent cleanup [flags] remove every route, rule and nexthop kroute owns on this node
                                    (flags: --protocol, --netns, --dry-run)

flags (each also as env KROUTE_<FLAG>, e.g. KROUTE_PROBE_INTERVAL):
  --node-name NAME             default: env NODE_NAME (downward API)
  --api-group GROUP            ${API_GROUPS.join(" | ")} (default ${API_GROUPS[0]})
  --api-server-namespace NS    namespace of the kubernetes Service (its EndpointSlices) and of the
                               agent's Events (default default)
  --protocol N                 route protocol tag kroute owns, 1..255 (default ${DEFAULT_SETTINGS.protocol})
  --metric N                   metric of kroute's routes (default ${DEFAULT_SETTINGS.metric})
  --table-reply N              table of the reply source rule (default ${DEFAULT_SETTINGS.replyTable})
  --nexthop-mode MODE          auto | groups | multipath (default auto)
  --resilient-buckets N        buckets of resilient groups, 0 = hash-threshold groups (default 128)
  --resilient-idle-timer DUR   e.g. 120s (default 120s)
  --multipath-hash-policy N    0 = L3, 1 = L4, 2 = L3 inner (default 1)
  --probe-interval DUR         (default 1s)
  --probe-timeout DUR          (default 1s; at most the interval)
  --probe-fall N               failures to mark a gateway down (default 3)
  --probe-rise N               successes to mark it up again (default 2)
  --protect CIDR               a prefix no Route may target (pod, service CIDRs); repeatable
                               (env: comma-separated)
  --keep-original CIDR         also kept via the original gateway under a default-route override; repeatable
  --resolv-conf FILE           the host's resolv.conf (its nameservers are protected); repeatable
                               (default /etc/resolv.conf)
  --metadata-address IP        cloud metadata address kept via the original gateway (default 169.254.169.254)
  --resync-interval DUR        periodic full kernel resync (default 5m)
  --metrics-address HOST:PORT  Prometheus /metrics (default 127.0.0.1:9464)
  --health-address HOST:PORT   /livez and /readyz, loopback only (default 127.0.0.1:9465)
  --dry-run                    compute and report, never write to the kernel
  --record FILE                append every consumed event to FILE as JSON Lines
  --netns NAME                 work in the named network namespace (tests, simulator)
  --kubeconfig FILE            default: in-cluster config, else KUBECONFIG / ~/.kube/config
  --log-level LEVEL            ${LOG_LEVELS.join(" | ")} (default info)`;

type RawFlags = {
  [K in FlagName]?: (typeof FLAGS)[K] extends { multiple: true } ? string[] : string | boolean;
};

function fail(flag: string, value: unknown, why: string): never {
  throw new SettingsError(`--${flag}: ${JSON.stringify(value)} ${why}`);
}

function envName(flag: FlagName): string {
  return `KROUTE_${flag.toUpperCase().replaceAll("-", "_")}`;
}

function readFlags(argv: readonly string[], env: NodeJS.ProcessEnv, allowed: readonly FlagName[]): RawFlags {
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
  return fail(flag, text, `(from ${envName(flag)}) is not a boolean: use true or false`);
}

function str(raw: RawFlags, flag: FlagName): string | undefined {
  const value = raw[flag];
  return typeof value === "string" ? value : undefined;
}

function integer(raw: RawFlags, flag: FlagName, fallback: number, min: number, max: number): number {
  const text = str(raw, flag);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) fail(flag, text, `is not a whole number (${min}..${max})`);
  const value = Number(text.trim());
  if (value < min || value > max) fail(flag, text, `is out of range (${min}..${max})`);
  return value;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations (`500ms`, `1s`, `1m30s`), so values read the same as in Kubernetes tooling. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (DURATION_UNITS[match[2] ?? ""] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

function duration(raw: RawFlags, flag: FlagName, fallbackMs: number, minMs: number, maxMs: number): number {
  const text = str(raw, flag);
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text);
  if (ms === undefined) fail(flag, text, "is not a duration (e.g. 500ms, 2s, 5m)");
  if (ms < minMs || ms > maxMs) fail(flag, text, `is out of range (${minMs}ms..${maxMs}ms)`);
  return ms;
}

function listenAddress(
  raw: RawFlags,
  flag: FlagName,
  fallback: ListenAddress,
  loopbackOnly: boolean,
): ListenAddress {
  const text = str(raw, flag);
  if (text === undefined) return fallback;
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  if (match === null) fail(flag, text, "is not HOST:PORT (e.g. 127.0.0.1:9465, [::1]:9465)");
  const host = match[1] ?? "";
  const port = Number(match[2]);
  if (port > 65535) fail(flag, text, "has a port out of range (0..65535; 0 = any free port)");
  const ip = parseIp(host);
  if (!ip.ok) fail(flag, text, "must name an IP address, not a host name");
  if (loopbackOnly && !(ip.value.startsWith("127.") || ip.value === "::1")) {
    fail(flag, text, "must be a loopback address (127.0.0.0/8 or ::1)");
  }
  return { host: ip.value, port };
}

function protocolNumber(raw: RawFlags): number {
  const protocol = integer(raw, "protocol", DEFAULT_SETTINGS.protocol, 1, 255);
  const known = WELL_KNOWN_PROTOCOLS[protocol];
  if (known !== undefined) {
    fail(
      "protocol",
      String(protocol),
      `is the well-known route protocol "${known}"; choose an unused number`,
    );
  }
  return protocol;
}

function replyTable(raw: RawFlags): number {
  const table = integer(raw, "table-reply", DEFAULT_SETTINGS.replyTable, 1, 0xffffffff);
  const reserved = RESERVED_TABLES[table];
  if (reserved !== undefined) fail("table-reply", String(table), `is the kernel's "${reserved}" table`);
  return table;
}

function oneOf<T extends string>(raw: RawFlags, flag: FlagName, choices: readonly T[], fallback: T): T {
  const text = str(raw, flag);
  if (text === undefined) return fallback;
  const found = choices.find((choice) => choice === text.trim());
  if (found === undefined) fail(flag, text, `is not one of ${choices.join(", ")}`);
  return found;
}

function prefixList(raw: RawFlags, flag: "protect" | "keep-original"): Prefix[] {
  const values = raw[flag];
  const list = Array.isArray(values) ? values : [];
  return list.map((text) => {
    const parsed = parsePrefix(text);
    if (!parsed.ok) fail(flag, text, `is not a CIDR: ${parsed.error}`);
    if (parsed.warning !== undefined) fail(flag, text, `has host bits set (did you mean ${parsed.value}?)`);
    return parsed.value;
  });
}

/** Parses and validates the agent's flags; throws SettingsError naming the flag and value. */
export function parseAgentSettings(argv: readonly string[], env: NodeJS.ProcessEnv): AgentSettings {
  const raw = readFlags(argv, env, Object.keys(FLAGS) as FlagName[]);
  const nodeName = str(raw, "node-name") ?? env.NODE_NAME ?? "";
  if (nodeName === "") {
    throw new SettingsError(
      "--node-name: not set, and NODE_NAME is empty (set it from the downward API: spec.nodeName)",
    );
  }
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(nodeName)) {
    fail("node-name", nodeName, "is not a valid Kubernetes node name (DNS subdomain)");
  }
  const probe: ProbeSettings = {
    intervalMs: duration(raw, "probe-interval", 1000, 10, 3_600_000),
    timeoutMs: duration(raw, "probe-timeout", 1000, 10, 3_600_000),
    fall: integer(raw, "probe-fall", 3, 1, 100),
    rise: integer(raw, "probe-rise", 2, 1, 100),
  };
  if (probe.timeoutMs > probe.intervalMs) {
    fail(
      "probe-timeout",
      str(raw, "probe-timeout") ?? `${probe.timeoutMs}ms`,
      "must not exceed --probe-interval",
    );
  }
  const buckets = integer(raw, "resilient-buckets", 128, 0, 65535);
  const idleTimerMs = duration(raw, "resilient-idle-timer", 120_000, 0, 3_600_000);
  if (idleTimerMs % 1000 !== 0) {
    fail(
      "resilient-idle-timer",
      str(raw, "resilient-idle-timer"),
      "must be whole seconds (the kernel counts seconds)",
    );
  }
  const nexthopMode = oneOf(raw, "nexthop-mode", ["auto", "groups", "multipath"] as const, "auto");
  if (nexthopMode === "multipath" && str(raw, "resilient-buckets") !== undefined && buckets > 0) {
    fail("resilient-buckets", String(buckets), "needs nexthop groups, but --nexthop-mode is multipath");
  }
  const metadata = str(raw, "metadata-address") ?? "169.254.169.254";
  const metadataIp = parseIp(metadata);
  if (!metadataIp.ok) fail("metadata-address", metadata, "is not an IP address");

  const { resilient: _defaultResilient, ...defaults } = DEFAULT_SETTINGS;
  const engine: EngineSettings = {
    ...defaults,
    protocol: protocolNumber(raw),
    metric: integer(raw, "metric", DEFAULT_SETTINGS.metric, 1, 0xffffffff),
    replyTable: replyTable(raw),
    nexthopMode: nexthopMode === "multipath" ? "multipath" : "groups",
    ...(buckets > 0 ? { resilient: { buckets, idleTimer: idleTimerMs / 1000, unbalancedTimer: 0 } } : {}),
    protectedPrefixes: prefixList(raw, "protect"),
  };

  const record = str(raw, "record");
  const netns = str(raw, "netns");
  const kubeconfig = str(raw, "kubeconfig");
  const apiServerNamespace = str(raw, "api-server-namespace")?.trim() ?? "default";
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(apiServerNamespace)) {
    fail(
      "api-server-namespace",
      apiServerNamespace,
      "is not a Kubernetes namespace name (lower-case letters, digits and -, at most 63)",
    );
  }
  if (netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(netns)) {
    fail("netns", netns, "is not a network namespace name (letters, digits, _ . -)");
  }
  return {
    nodeName,
    apiGroup: oneOf(raw, "api-group", API_GROUPS, API_GROUPS[0]),
    apiVersion: "v1alpha1",
    apiServerNamespace,
    nexthopMode,
    engine,
    multipathHashPolicy: integer(raw, "multipath-hash-policy", 1, 0, 2) as MultipathHashPolicy,
    probe,
    metadataAddress: metadataIp.value,
    keepOriginal: prefixList(raw, "keep-original"),
    resolvConf: Array.isArray(raw["resolv-conf"]) ? raw["resolv-conf"] : ["/etc/resolv.conf"],
    resyncIntervalMs: duration(raw, "resync-interval", 300_000, 1000, 86_400_000),
    metricsAddress: listenAddress(raw, "metrics-address", { host: "127.0.0.1", port: 9464 }, false),
    healthAddress: listenAddress(raw, "health-address", { host: "127.0.0.1", port: 9465 }, true),
    dryRun: raw["dry-run"] === true,
    logLevel: oneOf(raw, "log-level", LOG_LEVELS, "info"),
    ...(record !== undefined ? { recordFile: record } : {}),
    ...(netns !== undefined ? { netns } : {}),
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
  };
}

/** Parses `kroute-agent cleanup` flags: protocol, namespace, dry run. */
export function parseCleanupSettings(argv: readonly string[], env: NodeJS.ProcessEnv): CleanupSettings {
  const raw = readFlags(argv, env, CLEANUP_FLAGS);
  const netns = str(raw, "netns");
  return {
    protocol: protocolNumber(raw),
    nexthopIdBase: DEFAULT_SETTINGS.nexthopIdBase,
    nexthopIdCount: DEFAULT_SETTINGS.nexthopIdCount,
    dryRun: raw["dry-run"] === true,
    ...(netns !== undefined ? { netns } : {}),
  };
}
