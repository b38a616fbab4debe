export * from "./cleanup.ts";
export * from "./host-facts.ts";
export * from "./kube/index.ts";
export * from "./metrics.ts";
export * from "./runtime/agent.ts";
export * from "./runtime/kube-sources.ts";
export * from "./settings.ts";
