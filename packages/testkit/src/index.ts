export * from "./arbitraries.ts";
export * from "./conformance/index.ts";
export * from "./kube-api/index.ts";
export * from "./netns.ts";
export * from "./root.ts";
export * from "./topology.ts";
export * from "./udp-flows.ts";
