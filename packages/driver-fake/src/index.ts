export * from "./errno.ts";
export * from "./fake-kernel.ts";
export * from "./host-description.ts";
