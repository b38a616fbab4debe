export * from "./dataplane.ts";
