export {};
export * from "./icmp/index.ts";
