export * from "./dataplane.ts";
export * from "./icmp/index.ts";
export { releaseFreeMemory } from "./ffi.ts";
