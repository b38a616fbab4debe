export * from "./events.ts";
export * from "./ip.ts";
export * from "./kernel.ts";
export * from "./outcome.ts";
export * from "./route.ts";
export * from "./settings.ts";
