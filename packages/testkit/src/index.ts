export * from "./root.ts";
