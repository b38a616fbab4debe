export * from "./netns.ts";
export * from "./root.ts";
