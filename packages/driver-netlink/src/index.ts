export * from "./dataplane.ts";
export * from "./icmp/index.ts";
