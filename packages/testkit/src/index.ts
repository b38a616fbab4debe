export * from "./arbitraries.ts";
export * from "./conformance/index.ts";
export * from "./root.ts";
