/** Op builders for conformance cases: one request each, as the core's diff would make it. */
import type { KernelNexthop, KernelRoute, KernelRule } from "@kroute/core";

export const routeAdd = (to: KernelRoute) => ({ object: "route", action: "add", to }) as const;
export const routeReplace = (from: KernelRoute, to: KernelRoute) =>
  ({ object: "route", action: "replace", from, to }) as const;
export const routeDelete = (from: KernelRoute) => ({ object: "route", action: "delete", from }) as const;

export const nexthopAdd = (to: KernelNexthop) => ({ object: "nexthop", action: "add", to }) as const;
export const nexthopReplace = (from: KernelNexthop, to: KernelNexthop) =>
  ({ object: "nexthop", action: "replace", from, to }) as const;
export const nexthopDelete = (from: KernelNexthop) =>
  ({ object: "nexthop", action: "delete", from }) as const;

export const ruleAdd = (to: KernelRule) => ({ object: "rule", action: "add", to }) as const;
export const ruleDelete = (from: KernelRule) => ({ object: "rule", action: "delete", from }) as const;
