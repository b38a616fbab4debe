/**
 * Probe settings worth naming. The agent's flags default to the production preset
 * (--probe-interval 1s --probe-timeout 1s --probe-fall 3 --probe-rise 2); the fast
 * preset is what sub-second failover takes.
 */
import type { ProbeSettings } from "../settings.ts";

/** A dead gateway is out within about 3 to 4 s; one lost reply is never enough. */
export const PRODUCTION_PROBE_SETTINGS: ProbeSettings = {
  intervalMs: 1000,
  timeoutMs: 1000,
  fall: 3,
  rise: 2,
};

/** A dead gateway is out within about 0.2 to 0.3 s: two lost replies 100 ms apart. */
export const FAST_PROBE_SETTINGS: ProbeSettings = { intervalMs: 100, timeoutMs: 100, fall: 2, rise: 2 };

/** Throws naming the field and value when a setting cannot work. */
export function checkProbeSettings(settings: ProbeSettings): ProbeSettings {
  const positive = (field: keyof ProbeSettings, integer: boolean) => {
    const value = settings[field];
    if (!(Number.isFinite(value) && value > 0 && (!integer || Number.isInteger(value)))) {
      throw new Error(
        `probe settings: ${field} must be a positive ${integer ? "integer" : "number"}, got ${String(value)}`,
      );
    }
  };
  positive("intervalMs", false);
  positive("timeoutMs", false);
  positive("fall", true);
  positive("rise", true);
  return settings;
}
