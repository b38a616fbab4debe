/**
 * Request routing as the API server's REST paths lay it out: /api/v1 for the core
 * group, /apis/<group>/<version> for the others, an optional namespace, then the
 * plural, a name and the status subresource; and the verb a method means on it.
 */
import type { ResourceType, Subresource } from "./resources.ts";

export type Verb = "list" | "watch" | "get" | "create" | "update" | "patch" | "apply" | "delete";

/** What a request path addresses. */
export interface Target {
  readonly type: ResourceType;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource: Subresource;
}

export const APPLY_PATCH = "application/apply-patch+yaml";
export const MERGE_PATCH = "application/merge-patch+json";

/** The target of `pathname` among `types`, or undefined where a real server answers 404. */
export function parseTarget(types: readonly ResourceType[], pathname: string): Target | undefined {
  const parts = pathname
    .split("/")
    .filter((p) => p !== "")
    .map(decodeURIComponent);
  let group: string;
  let rest: string[];
  let version: string;
  if (parts[0] === "api" && parts.length >= 2) {
    group = "";
    version = parts[1]!;
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 3) {
    group = parts[1]!;
    version = parts[2]!;
    rest = parts.slice(3);
  } else return undefined;
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [plural, name, sub, ...extra] = rest;
  const type = types.find((t) => t.group === group && t.version === version && t.plural === plural);
  if (type === undefined || extra.length > 0) return undefined;
  if (namespace !== undefined && !type.namespaced) return undefined;
  if (sub !== undefined && !(sub === "status" && type.statusSubresource)) return undefined;
  // Namespaced objects are addressed inside their namespace; only list and watch span them all.
  if (type.namespaced && namespace === undefined && name !== undefined) return undefined;
  return {
    type,
    ...(namespace === undefined ? {} : { namespace }),
    ...(name === undefined ? {} : { name }),
    subresource: sub === "status" ? "status" : "",
  };
}

export function verbOf(
  method: string,
  target: Target,
  query: URLSearchParams,
  contentType: string,
): Verb | undefined {
  const watch = query.get("watch") === "true" || query.get("watch") === "1";
  if (target.name === undefined) {
    if (method === "GET") return watch ? "watch" : "list";
    if (method === "POST") return "create";
    return undefined;
  }
  switch (method) {
    case "GET":
      return "get";
    case "PUT":
      return "update";
    case "PATCH":
      return contentType === APPLY_PATCH ? "apply" : "patch";
    case "DELETE":
      return "delete";
    default:
      return undefined;
  }
}
