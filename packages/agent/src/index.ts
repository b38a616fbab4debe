export {};
export * from "./kube/index.ts";
