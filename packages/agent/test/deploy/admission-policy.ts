/**
 * The chart's ValidatingAdmissionPolicies, evaluated as the API server does, so tests
 * can hold requests (the agent's real ones, and forged ones) against them. The CEL is
 * run by a JavaScript CEL implementation (@marcbachmann/cel-js), not Kubernetes' cel-go:
 * the expressions the chart uses (field access, `in` on a map, `size`, `==`, `&&`, `?:`,
 * string concatenation) mean the same in both.
 *
 * The admission semantics followed (Kubernetes docs, "Validating Admission Policy"): a
 * policy applies through a binding naming it; its `matchConstraints.resourceRules`
 * match group, version, operation and resource (`plural/subresource`, `*` for any); then
 * every `matchConditions` expression must be true, or the policy does not apply; then
 * each `validations` expression must be true, or the request is denied with its
 * `messageExpression`, else its `message`. `variables` are visible as `variables.NAME`.
 * An expression that fails to evaluate denies the request under `failurePolicy: Fail`.
 */
import { join, resolve } from "node:path";
import type { RequestLogEntry } from "@kroute/lab";
import { evaluate } from "@marcbachmann/cel-js";
import { parseAllDocuments } from "yaml";
import { renderChart } from "../../src/deploy/chart.ts";

interface ResourceRule {
  readonly apiGroups: readonly string[];
  readonly apiVersions: readonly string[];
  readonly operations: readonly string[];
  readonly resources: readonly string[];
}

interface Policy {
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly failurePolicy?: "Fail" | "Ignore";
    readonly matchConstraints: { readonly resourceRules: readonly ResourceRule[] };
    readonly matchConditions?: readonly { readonly name: string; readonly expression: string }[];
    readonly variables?: readonly { readonly name: string; readonly expression: string }[];
    readonly validations: readonly {
      readonly expression: string;
      readonly message?: string;
      readonly messageExpression?: string;
    }[];
  };
}

interface Binding {
  readonly spec: { readonly policyName: string; readonly validationActions: readonly string[] };
}

/** The parts of an admission request the chart's policies read. */
export interface AdmissionRequest {
  readonly operation: "CREATE" | "UPDATE" | "DELETE";
  readonly group: string;
  readonly version: string;
  /** Plural, e.g. `noderoutetables`. */
  readonly resource: string;
  readonly subResource?: string | undefined;
  readonly name: string;
  readonly userInfo: {
    readonly username: string;
    readonly extra?: Readonly<Record<string, readonly string[]>>;
  };
  /** The object as it would be stored. */
  readonly object: Record<string, unknown>;
}

export type Verdict = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

const chartDir = join(resolve(import.meta.dirname, "../../../.."), "deploy/helm/kroute");

function matchesAny(patterns: readonly string[], value: string): boolean {
  return patterns.includes("*") || patterns.includes(value);
}

function matchesRule(rule: ResourceRule, request: AdmissionRequest): boolean {
  const resource = request.subResource ? `${request.resource}/${request.subResource}` : request.resource;
  return (
    matchesAny(rule.apiGroups, request.group) &&
    matchesAny(rule.apiVersions, request.version) &&
    matchesAny(rule.operations, request.operation) &&
    matchesAny(rule.resources, resource)
  );
}

function celContext(request: AdmissionRequest, variables: Record<string, unknown>): Record<string, unknown> {
  return {
    request: {
      operation: request.operation,
      name: request.name,
      resource: { group: request.group, version: request.version, resource: request.resource },
      subResource: request.subResource ?? "",
      userInfo: { username: request.userInfo.username, extra: request.userInfo.extra ?? {} },
    },
    object: request.object,
    variables,
  };
}

/** One policy's verdict on a request it applies to (undefined: it does not apply). */
function judge(policy: Policy, request: AdmissionRequest): Verdict | undefined {
  if (!policy.spec.matchConstraints.resourceRules.some((rule) => matchesRule(rule, request)))
    return undefined;
  const failing = (what: string, error: unknown): Verdict | undefined =>
    policy.spec.failurePolicy === "Ignore"
      ? undefined
      : { allowed: false, message: `policy ${policy.metadata.name}: ${what} failed: ${String(error)}` };
  const variables: Record<string, unknown> = {};
  try {
    for (const condition of policy.spec.matchConditions ?? [])
      if (evaluate(condition.expression, celContext(request, variables)) !== true) return undefined;
    for (const variable of policy.spec.variables ?? [])
      variables[variable.name] = evaluate(variable.expression, celContext(request, variables));
  } catch (error) {
    return failing("a match condition or variable", error);
  }
  for (const validation of policy.spec.validations) {
    let passed: unknown;
    try {
      passed = evaluate(validation.expression, celContext(request, variables));
    } catch (error) {
      return failing(`validation ${validation.expression}`, error);
    }
    if (passed === true) continue;
    const message =
      validation.messageExpression !== undefined
        ? String(evaluate(validation.messageExpression, celContext(request, variables)))
        : (validation.message ?? `failed expression: ${validation.expression}`);
    return { allowed: false, message };
  }
  return { allowed: true };
}

/**
 * The admission verdict of the chart's bound, denying policies on a request, rendered
 * with `values` and the release's namespace.
 */
export function chartAdmission(
  values: Record<string, unknown> = {},
  namespace = "kroute-system",
): { readonly policies: readonly string[]; readonly admit: (request: AdmissionRequest) => Verdict } {
  const chart = renderChart(chartDir, { values, namespace });
  const objects = chart.templates.flatMap((t) =>
    parseAllDocuments(t.text).map((d) => d.toJS() as { kind?: string } | null),
  );
  const policies = objects.filter((o) => o?.kind === "ValidatingAdmissionPolicy") as unknown as Policy[];
  const bindings = objects.filter(
    (o) => o?.kind === "ValidatingAdmissionPolicyBinding",
  ) as unknown as Binding[];
  const enforced = policies.filter((p) =>
    bindings.some((b) => b.spec.policyName === p.metadata.name && b.spec.validationActions.includes("Deny")),
  );
  return {
    policies: enforced.map((p) => p.metadata.name),
    admit(request) {
      for (const policy of enforced) {
        const verdict = judge(policy, request);
        if (verdict !== undefined && !verdict.allowed) return verdict;
      }
      return { allowed: true };
    },
  };
}

/**
 * A write the API double logged, as the admission request the API server would have
 * judged (undefined for reads and deletes): a server-side apply that created its object
 * (201) is a CREATE, any other apply or patch an UPDATE. The object is known by its name.
 */
export function loggedWrite(
  entry: RequestLogEntry,
  userInfo: AdmissionRequest["userInfo"],
): AdmissionRequest | undefined {
  if (entry.verb !== "apply" && entry.verb !== "patch" && entry.verb !== "create" && entry.verb !== "update")
    return undefined;
  const [group = "", version = "", resource = ""] = (entry.resource ?? "").split("/");
  const name = entry.name ?? "";
  return {
    operation: entry.verb === "create" || entry.status === 201 ? "CREATE" : "UPDATE",
    group,
    version,
    resource,
    subResource: entry.subresource,
    name,
    userInfo,
    object: { metadata: { name } },
  };
}
