/**
 * Chooses the final engine settings from what the kernel can do, detected at start
 * (never assumed): nexthop groups where the kernel has nexthop objects (5.3+),
 * resilient groups where it has those (5.13+), plain multipath routes otherwise.
 */
import type { DataplaneFeatures, EngineSettings } from "@kroute/core";
import { type AgentSettings, SettingsError } from "../settings.ts";

export interface FeatureChoice {
  readonly engine: EngineSettings;
  /** Things the operator should hear about (a requested feature the kernel lacks). */
  readonly notes: readonly string[];
}

/** A setting this kernel cannot honour: a settings error (exit 2), found only once the kernel is probed. */
export class UnsupportedFeatureError extends SettingsError {
  override readonly name = "UnsupportedFeatureError";
}

export function chooseEngineSettings(
  settings: Pick<AgentSettings, "engine" | "nexthopMode">,
  features: DataplaneFeatures,
): FeatureChoice {
  const notes: string[] = [];
  const { resilient, ...rest } = settings.engine;
  if (settings.nexthopMode === "groups" && !features.nexthopObjects) {
    throw new UnsupportedFeatureError(
      '--nexthop-mode: "groups" needs nexthop objects, which this kernel lacks (Linux 5.3+); use auto or multipath',
    );
  }
  const groups =
    settings.nexthopMode === "groups" || (settings.nexthopMode === "auto" && features.nexthopObjects);
  if (!groups) {
    if (settings.nexthopMode === "auto")
      notes.push("kernel has no nexthop objects: using plain multipath routes");
    return { engine: { ...rest, nexthopMode: "multipath" }, notes };
  }
  if (resilient !== undefined && !features.resilientGroups) {
    notes.push("kernel has no resilient nexthop groups (Linux 5.13+): using hash-threshold groups");
    return { engine: { ...rest, nexthopMode: "groups" }, notes };
  }
  return {
    engine: { ...rest, nexthopMode: "groups", ...(resilient !== undefined ? { resilient } : {}) },
    notes,
  };
}
