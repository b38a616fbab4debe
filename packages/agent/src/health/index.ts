export * from "./debounce.ts";
export * from "./presets.ts";
export * from "./tracker.ts";
