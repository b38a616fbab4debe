import { isObject, type JsonObject } from "./json.ts";

/**
 * The resource types the double serves, described the way the API server's discovery
 * would: group, version, plural, kind, scope, and whether `status` is a subresource.
 */
export interface ResourceType {
  /** "" for the core group (served under /api/v1). */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** With a status subresource, writes to the main resource ignore `status` and vice versa. */
  readonly statusSubresource: boolean;
  /** A custom resource: create drops `status` when the status subresource is on (as the CRD strategy does). */
  readonly custom: boolean;
  /**
   * Associative lists for server-side apply (x-kubernetes-list-type: map), by dotted
   * path, with their key fields. Every other list is atomic.
   */
  readonly listMapKeys: Readonly<Record<string, readonly string[]>>;
  /** Type-specific validation on create and update: messages naming the field, empty when valid. */
  readonly validate?: (obj: JsonObject) => string[];
}

/** "status" addresses the status subresource; "" the object itself. */
export type Subresource = "" | "status";

export const KROUTE_GROUP = "networking.kroute.dev";
export const DOKS_GROUP = "networking.doks.digitalocean.com";
export const CRD_VERSION = "v1alpha1";

const OWNER_REFERENCES = { "metadata.ownerReferences": ["uid"] } as const;

export function apiVersionOf(type: ResourceType): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

export function typeKey(type: ResourceType): string {
  return `${type.group}/${type.version}/${type.plural}`;
}

/** Built-in types plus Route and NodeRouteTable under each CRD group. */
export function defaultResourceTypes(crdGroups: readonly string[]): ResourceType[] {
  const builtIn: ResourceType[] = [
    {
      group: "",
      version: "v1",
      plural: "nodes",
      kind: "Node",
      namespaced: false,
      statusSubresource: true,
      custom: false,
      listMapKeys: { ...OWNER_REFERENCES, "status.addresses": ["type"], "status.conditions": ["type"] },
    },
    {
      group: "",
      version: "v1",
      plural: "services",
      kind: "Service",
      namespaced: true,
      statusSubresource: true,
      custom: false,
      listMapKeys: OWNER_REFERENCES,
    },
    {
      group: "discovery.k8s.io",
      version: "v1",
      plural: "endpointslices",
      kind: "EndpointSlice",
      namespaced: true,
      statusSubresource: false,
      custom: false,
      listMapKeys: OWNER_REFERENCES,
    },
    {
      group: "events.k8s.io",
      version: "v1",
      plural: "events",
      kind: "Event",
      namespaced: true,
      statusSubresource: false,
      custom: false,
      listMapKeys: OWNER_REFERENCES,
      validate: validateEvent,
    },
  ];
  const crds = crdGroups.flatMap((group): ResourceType[] => [
    {
      group,
      version: CRD_VERSION,
      plural: "routes",
      kind: "Route",
      namespaced: false,
      statusSubresource: true,
      custom: true,
      listMapKeys: { ...OWNER_REFERENCES, "status.conditions": ["type"] },
    },
    {
      group,
      version: CRD_VERSION,
      plural: "noderoutetables",
      kind: "NodeRouteTable",
      namespaced: false,
      statusSubresource: true,
      custom: true,
      listMapKeys: { ...OWNER_REFERENCES, "status.conditions": ["type"] },
    },
  ]);
  return [...builtIn, ...crds];
}

/** Length limits of Event fields (k8s.io/kubernetes pkg/apis/core/validation/events.go), in bytes. */
const EVENT_FIELD_LIMITS = { reportingInstance: 128, action: 128, reason: 128 } as const;
const EVENT_NOTE_LIMIT = 1024;

/**
 * events.k8s.io/v1 Events as ValidateEventCreate checks them: the required fields, the
 * length limits, and where an Event may live: one about a cluster-scoped object (its
 * `regarding` has no namespace) only in default or kube-system.
 */
function validateEvent(obj: JsonObject): string[] {
  const problems: string[] = [];
  const required = ["eventTime", "reportingController", "reportingInstance", "action", "reason"];
  for (const field of required) {
    const value = obj[field];
    if (value === undefined || value === null || value === "") problems.push(`${field}: Required value`);
  }
  if (obj.type !== "Normal" && obj.type !== "Warning") {
    problems.push(
      `type: Unsupported value: ${JSON.stringify(obj.type ?? "")}: supported values: "Normal", "Warning"`,
    );
  }
  for (const [field, limit] of Object.entries(EVENT_FIELD_LIMITS)) {
    const value = obj[field];
    if (typeof value === "string" && Buffer.byteLength(value) > limit)
      problems.push(`${field}: Invalid value: "": can have at most ${limit} characters`);
  }
  const note = obj.note;
  if (typeof note === "string" && Buffer.byteLength(note) > EVENT_NOTE_LIMIT)
    problems.push(`message: Invalid value: "": can have at most ${EVENT_NOTE_LIMIT} characters`);
  if (obj.regarding !== undefined && !isObject(obj.regarding)) problems.push("regarding: Invalid value");
  const regardingNamespace = isObject(obj.regarding) ? (obj.regarding.namespace ?? "") : "";
  const namespace = isObject(obj.metadata) ? obj.metadata.namespace : undefined;
  if (regardingNamespace === "" && namespace !== "default" && namespace !== "kube-system")
    problems.push('involvedObject.namespace: Invalid value: "": does not match event.namespace');
  return problems;
}
