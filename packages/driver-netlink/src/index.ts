export * from "./dataplane.ts";
export { releaseFreeMemory } from "./ffi.ts";
export * from "./icmp/index.ts";
