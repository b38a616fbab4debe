/**
 * Checks Kubernetes objects against the Kubernetes API schemas, two ways:
 * - kubernetes-models' validators (JSON Schemas generated from the API's OpenAPI
 *   document): types, required fields, enums, formats;
 * - unknown fields, as `kubectl apply --validate=strict` reports them, by walking
 *   @kubernetes/client-node's generated model maps (the OpenAPI validators above
 *   allow additional properties, so a misspelt field would otherwise pass).
 */
import * as k8s from "@kubernetes/client-node";
import { ValidatingAdmissionPolicy } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";
import { ValidatingAdmissionPolicyBinding } from "kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly [field: string]: unknown;
}

interface Validatable {
  validate(): void;
}

const MODELS: Record<string, { model: new (data: never) => Validatable; clientType: string }> = {
  "v1/Namespace": { model: Namespace, clientType: "V1Namespace" },
  "v1/ServiceAccount": { model: ServiceAccount, clientType: "V1ServiceAccount" },
  "apps/v1/DaemonSet": { model: DaemonSet, clientType: "V1DaemonSet" },
  "rbac.authorization.k8s.io/v1/ClusterRole": { model: ClusterRole, clientType: "V1ClusterRole" },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": {
    model: ClusterRoleBinding,
    clientType: "V1ClusterRoleBinding",
  },
  "rbac.authorization.k8s.io/v1/Role": { model: Role, clientType: "V1Role" },
  "rbac.authorization.k8s.io/v1/RoleBinding": { model: RoleBinding, clientType: "V1RoleBinding" },
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy": {
    model: ValidatingAdmissionPolicy,
    clientType: "V1ValidatingAdmissionPolicy",
  },
  "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding": {
    model: ValidatingAdmissionPolicyBinding,
    clientType: "V1ValidatingAdmissionPolicyBinding",
  },
  "apiextensions.k8s.io/v1/CustomResourceDefinition": {
    model: CustomResourceDefinition,
    clientType: "V1CustomResourceDefinition",
  },
};

interface Attribute {
  readonly baseName: string;
  readonly type: string;
}

function attributesOf(typeName: string): readonly Attribute[] | undefined {
  const model = (k8s as unknown as Record<string, { attributeTypeMap?: readonly Attribute[] } | undefined>)[
    typeName
  ];
  return model?.attributeTypeMap;
}

/** Fields that the generated models do not know, as JSON paths. */
export function unknownFields(value: unknown, typeName: string, path = ""): string[] {
  if (value === null || typeof value !== "object") return [];
  const array = /^Array<(.+)>$/.exec(typeName);
  if (array !== null) {
    return (value as unknown[]).flatMap((item, i) => unknownFields(item, array[1] ?? "", `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map !== null) {
    return Object.entries(value).flatMap(([k, v]) => unknownFields(v, map[1] ?? "", `${path}.${k}`));
  }
  const attributes = attributesOf(typeName);
  if (attributes === undefined) return []; // a primitive, or free-form (JSON, IntOrString)
  const problems: string[] = [];
  for (const [key, field] of Object.entries(value)) {
    const attribute = attributes.find((a) => a.baseName === key);
    if (attribute === undefined) problems.push(`${path}.${key}`);
    else problems.push(...unknownFields(field, attribute.type, `${path}.${key}`));
  }
  return problems;
}

/**
 * Unknown keywords inside a CRD's openAPIV3Schema: client-node types `items` and
 * `anyOf` members loosely, so the generic walk stops there; this one follows them.
 */
function unknownSchemaKeywords(schema: unknown, path: string): string[] {
  if (schema === null || typeof schema !== "object") return [];
  const known = attributesOf("V1JSONSchemaProps") ?? [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(schema)) {
    if (!known.some((a) => a.baseName === key)) problems.push(`unknown schema keyword ${path}.${key}`);
    if (key === "properties" && value !== null && typeof value === "object") {
      for (const [name, child] of Object.entries(value))
        problems.push(...unknownSchemaKeywords(child, `${path}.properties.${name}`));
    }
    if (key === "items" || key === "additionalProperties")
      problems.push(...unknownSchemaKeywords(value, `${path}.${key}`));
    if ((key === "anyOf" || key === "oneOf" || key === "allOf") && Array.isArray(value)) {
      for (const [i, child] of value.entries())
        problems.push(...unknownSchemaKeywords(child, `${path}.${key}[${i}]`));
    }
  }
  return problems;
}

function crdSchemaProblems(object: KubeObject): string[] {
  const versions =
    (object.spec as { versions?: { name: string; schema?: { openAPIV3Schema?: unknown } }[] })?.versions ??
    [];
  return versions.flatMap((v) =>
    unknownSchemaKeywords(v.schema?.openAPIV3Schema, `${v.name}.openAPIV3Schema`),
  );
}

/** Every schema problem of one object, as readable strings; empty when valid. */
export function kubernetesSchemaProblems(object: KubeObject): string[] {
  const entry = MODELS[`${object.apiVersion}/${object.kind}`];
  if (entry === undefined) return [`no schema known for ${object.apiVersion} ${object.kind}`];
  const problems: string[] = [];
  try {
    new entry.model(object as never).validate();
  } catch (error) {
    problems.push(String(error instanceof Error ? error.message : error));
  }
  for (const field of unknownFields(object, entry.clientType)) problems.push(`unknown field ${field}`);
  if (object.kind === "CustomResourceDefinition") problems.push(...crdSchemaProblems(object));
  return problems.map((p) => `${object.kind} ${object.metadata.name}: ${p}`);
}
