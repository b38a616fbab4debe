/**
 * The agent's settings, from command-line flags and the environment (flags win).
 *
 * Everything is validated at start: a bad value is a SettingsError naming the flag
 * and the value, and main exits with status 2 before touching anything. Every flag
 * `--some-flag` can also come from the environment as `KROUTE_SOME_FLAG`, which is
 * how the Helm chart passes values; the node name comes from `NODE_NAME` (the
 * downward API).
 *
 * The parts live in ./settings/; this file names what the rest of the agent (and
 * the package's index) may use, so helpers such as `fail` stay private.
 */
export {
  type AgentSettings,
  API_GROUPS,
  type ApiGroup,
  LOG_LEVELS,
  type LogLevel,
  type ProbeSettings,
  parseAgentSettings,
} from "./settings/agent-settings.ts";
export { type CleanupSettings, parseCleanupSettings } from "./settings/cleanup-settings.ts";
export { SettingsError } from "./settings/settings-error.ts";
export { USAGE } from "./settings/usage.ts";
export { type ListenAddress, parseDuration } from "./settings/values.ts";
