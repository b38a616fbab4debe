export * from "./harness.ts";
export * from "./suite.ts";
