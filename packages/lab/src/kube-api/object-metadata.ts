/**
 * Object metadata as the API server treats it: what the user sets (labels,
 * annotations, ownerReferences, finalizers), what the server sets on create (name
 * checks, uid, creationTimestamp, generation), and what generation tracks.
 */
import { ApiError } from "./errors.ts";
import { isObject, type Json, type JsonObject, omitKeys } from "./json.ts";
import { apiVersionOf, type ResourceType } from "./resources.ts";

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
export const SPEC_METADATA = ["labels", "annotations", "ownerReferences", "finalizers"] as const;

export function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function metadataOf(obj: JsonObject): JsonObject {
  return isObject(obj.metadata) ? obj.metadata : {};
}

export function pickSpecMetadata(metadata: JsonObject): JsonObject {
  const out: Record<string, Json> = {};
  for (const key of SPEC_METADATA) if (metadata[key] !== undefined) out[key] = metadata[key];
  return out;
}

/** What metadata.generation tracks: everything but metadata and status. */
export function specOf(obj: JsonObject): JsonObject {
  return omitKeys(obj, ["apiVersion", "kind", "metadata", "status"]);
}

/** A new object's server-set metadata. */
export function freshObject(
  type: ResourceType,
  namespace: string,
  name: string,
  body: JsonObject,
): JsonObject {
  if (name.length > 253 || !NAME_RE.test(name)) {
    throw new ApiError(
      422,
      "Invalid",
      `${type.kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
    );
  }
  const metadata: Record<string, Json> = {
    ...pickSpecMetadata(metadataOf(body)),
    name,
    uid: crypto.randomUUID(),
    creationTimestamp: nowRfc3339(),
    generation: 1,
  };
  if (type.namespaced) metadata.namespace = namespace;
  return { ...body, apiVersion: apiVersionOf(type), kind: type.kind, metadata };
}
