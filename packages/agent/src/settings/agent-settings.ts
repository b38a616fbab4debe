/**
 * The agent's own settings, validated in full at start so that a bad value stops
 * main before anything is touched. The node name comes from `NODE_NAME` (the
 * downward API) unless --node-name is given.
 */
import {
  DEFAULT_MAX_DESTINATIONS,
  DEFAULT_SETTINGS,
  type EngineSettings,
  type IpAddr,
  type MultipathHashPolicy,
  type Prefix,
  parseIp,
} from "@kroute/core";
import { FLAGS, type FlagName, parseFlags, type RawFlags } from "./flags.ts";
import { type HostFiles, hostFiles } from "./host-files.ts";
import { adoptProtocolNumber, protocolNumber, replyTable, routeTables } from "./ownership-numbers.ts";
import { fail, SettingsError } from "./settings-error.ts";
import {
  duration,
  integer,
  type ListenAddress,
  listenAddress,
  netnsName,
  oneOf,
  prefixList,
  str,
} from "./values.ts";

export const API_GROUPS = ["networking.kroute.dev", "networking.doks.digitalocean.com"] as const;
export type ApiGroup = (typeof API_GROUPS)[number];

export interface ProbeSettings {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failures before a gateway is down. */
  readonly fall: number;
  /** Consecutive successes before a down gateway is up again. */
  readonly rise: number;
}

export interface AgentSettings extends HostFiles {
  readonly nodeName: string;
  readonly apiGroup: ApiGroup;
  readonly apiVersion: "v1alpha1";
  /**
   * Namespace of the `kubernetes` Service: its EndpointSlices name the API servers (the
   * Helm chart's Role is in this namespace). Events about the cluster-scoped Routes and
   * Node go to `default` whatever it is (kube/event-recorder.ts).
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
  readonly resyncIntervalMs: number;
  readonly metricsAddress: ListenAddress;
  readonly healthAddress: ListenAddress;
  readonly dryRun: boolean;
  /** V8's optimizing compilers (Maglev, TurboFan): off by default, for memory (runtime/v8-memory.ts). */
  readonly optimizingCompilers: boolean;
  readonly recordFile?: string;
  readonly netns?: string;
  readonly kubeconfig?: string;
  readonly logLevel: LogLevel;
}

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Every flag but cleanup's own list of protocols, which the agent would only ignore. */
const AGENT_FLAGS = (Object.keys(FLAGS) as FlagName[]).filter((flag) => flag !== "protocols");

/** Parses and validates the agent's flags; throws SettingsError naming the flag (or variable) and value. */
export function parseAgentSettings(argv: readonly string[], env: NodeJS.ProcessEnv): AgentSettings {
  return parseFlags(argv, env, AGENT_FLAGS, (raw) => agentSettings(raw, env));
}

function agentSettings(raw: RawFlags, env: NodeJS.ProcessEnv): AgentSettings {
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
  const protocol = protocolNumber(raw);
  const adoptProtocol = adoptProtocolNumber(raw, protocol);
  const engine: EngineSettings = {
    ...defaults,
    protocol,
    ...(adoptProtocol !== undefined ? { adoptProtocol } : {}),
    metric: integer(raw, "metric", DEFAULT_SETTINGS.metric, 1, 0xffffffff),
    replyTable: replyTable(raw),
    ...routeTables(raw),
    maxDestinations: integer(raw, "max-destinations", DEFAULT_MAX_DESTINATIONS, 1, 0xffffffff),
    nexthopMode: nexthopMode === "multipath" ? "multipath" : "groups",
    ...(buckets > 0 ? { resilient: { buckets, idleTimer: idleTimerMs / 1000, unbalancedTimer: 0 } } : {}),
    protectedPrefixes: prefixList(raw, "protect"),
  };

  const record = str(raw, "record");
  const netns = netnsName(raw);
  const kubeconfig = str(raw, "kubeconfig");
  const apiServerNamespace = str(raw, "api-server-namespace")?.trim() ?? "default";
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(apiServerNamespace)) {
    fail(
      "api-server-namespace",
      apiServerNamespace,
      "is not a Kubernetes namespace name (lower-case letters, digits and -, at most 63)",
    );
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
    ...hostFiles(raw),
    resyncIntervalMs: duration(raw, "resync-interval", 300_000, 1000, 86_400_000),
    metricsAddress: listenAddress(raw, "metrics-address", { host: "127.0.0.1", port: 9464 }, false),
    healthAddress: listenAddress(raw, "health-address", { host: "127.0.0.1", port: 9465 }, true),
    dryRun: raw["dry-run"] === true,
    optimizingCompilers: raw["optimizing-compilers"] === true,
    logLevel: oneOf(raw, "log-level", LOG_LEVELS, "info"),
    ...(record !== undefined ? { recordFile: record } : {}),
    ...(netns !== undefined ? { netns } : {}),
    ...(kubeconfig !== undefined ? { kubeconfig } : {}),
  };
}
