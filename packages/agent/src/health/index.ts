export * from "./debounce.ts";
export * from "./presets.ts";
export * from "./probed.ts";
export * from "./tracker.ts";
