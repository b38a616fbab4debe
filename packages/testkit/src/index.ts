export * from "./arbitraries.ts";
export * from "./conformance/index.ts";
export * from "./free-port.ts";
export * from "./packed.ts";
export * from "./root.ts";
