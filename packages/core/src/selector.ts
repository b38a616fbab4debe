/**
 * Kubernetes core/v1 NodeSelector evaluation, with exactly the semantics of
 * k8s.io/component-helpers/scheduling/corev1/nodeaffinity:
 * - an absent selector selects every node;
 * - terms are ORed; a selector with no terms selects no node;
 * - a term with neither matchExpressions nor matchFields selects no node;
 * - inside a term every requirement must hold (ANDed);
 * - a term with a malformed requirement selects no node (Kubernetes reports a
 *   parse error for that term and treats it as not matching).
 *
 * The same well-formedness checks are exported for Route validation, so what the
 * validator refuses is exactly what the evaluator would never match.
 */
import { show } from "./json-reader.ts";
import type { NodeSelector, NodeSelectorRequirement, NodeSelectorTerm } from "./route.ts";

export interface SelectableNode {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The only field a node field selector may name. */
export const NODE_NAME_FIELD = "metadata.name";

const OPERATORS: readonly string[] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

/**
 * Sizes a Route's nodeSelector may have, as the CRD's maxItems say (Kubernetes sets none
 * for a Pod's): generous for any real selector, and what bounds the work and memory one
 * Route costs every agent where admission did not check them (older CRDs, other groups).
 */
export const MAX_SELECTOR_TERMS = 32;
/** Per term, of matchExpressions and of matchFields each. */
export const MAX_SELECTOR_REQUIREMENTS = 32;
export const MAX_SELECTOR_VALUES = 64;

// Label keys and values as Kubernetes validates them (IsQualifiedName, IsValidLabelValue).
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const INT64 = /^[+-]?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf("/");
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `${JSON.stringify(key)} has an invalid prefix (must be a DNS subdomain)`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `${JSON.stringify(key)} is not a valid label key`;
  }
  return undefined;
}

function isLabelValue(value: string): boolean {
  return value === "" || (value.length <= 63 && LABEL_NAME.test(value));
}

/** Parses a decimal int64 as Go's strconv.ParseInt(s, 10, 64) does; undefined when it would fail. */
export function parseInt64(text: string): bigint | undefined {
  if (!INT64.test(text)) return undefined;
  const value = BigInt(text);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

export interface RequirementProblem {
  /** Relative to the requirement: "key", "operator", "values", "values[2]". */
  readonly field: "key" | "operator" | "values" | `values[${number}]`;
  readonly value: unknown;
  readonly message: string;
}

/**
 * What is wrong with one requirement of a term's matchExpressions (`labels`) or
 * matchFields (`fields`), or undefined when it is well formed. Accepts untrusted
 * input: every field is checked for its type first.
 */
export function requirementProblem(
  requirement: unknown,
  kind: "labels" | "fields",
): RequirementProblem | undefined {
  if (typeof requirement !== "object" || requirement === null || Array.isArray(requirement)) {
    return { field: "key", value: requirement, message: "a requirement must be an object" };
  }
  const { key, operator, values } = requirement as Record<string, unknown>;
  if (typeof key !== "string") return { field: "key", value: key, message: "key must be a string" };
  if (kind === "fields" && key !== NODE_NAME_FIELD) {
    return {
      field: "key",
      value: key,
      message: `${JSON.stringify(key)} is not a node field; only ${NODE_NAME_FIELD}`,
    };
  }
  if (kind === "labels") {
    const problem = labelKeyProblem(key);
    if (problem !== undefined) return { field: "key", value: key, message: problem };
  }
  if (typeof operator !== "string" || !OPERATORS.includes(operator)) {
    return {
      field: "operator",
      value: operator,
      message: `${JSON.stringify(operator)} is not one of ${OPERATORS.join(", ")}`,
    };
  }
  if (values !== undefined && values !== null && !Array.isArray(values)) {
    return {
      field: "values",
      value: values,
      message: `values must be a list of strings, got ${show(values)}`,
    };
  }
  const list: readonly unknown[] = Array.isArray(values) ? values : [];
  if (list.length > MAX_SELECTOR_VALUES) {
    return {
      field: "values",
      value: values,
      message: `${list.length} values; at most ${MAX_SELECTOR_VALUES}`,
    };
  }
  const bad = list.findIndex((v) => typeof v !== "string");
  if (bad >= 0)
    return {
      field: `values[${bad}]`,
      value: list[bad],
      message: `values must be strings, got ${show(list[bad])}`,
    };
  const strings = list as readonly string[];
  if (kind === "fields") {
    if (operator !== "In" && operator !== "NotIn") {
      return {
        field: "operator",
        value: operator,
        message: `matchFields supports only In and NotIn, got ${show(operator)}`,
      };
    }
    if (strings.length !== 1) {
      return {
        field: "values",
        value: values,
        message: `matchFields In and NotIn need exactly one value, got ${listed(strings)}`,
      };
    }
    return undefined;
  }
  // Kubernetes checks every value as a label value, whatever the operator (so Gt/Lt take no sign).
  const invalid = strings.findIndex((v) => !isLabelValue(v));
  if (invalid >= 0) {
    return {
      field: `values[${invalid}]`,
      value: strings[invalid],
      message: `${JSON.stringify(strings[invalid])} is not a valid label value`,
    };
  }
  switch (operator) {
    case "In":
    case "NotIn":
      return strings.length > 0
        ? undefined
        : {
            field: "values",
            value: values,
            message: `${operator} needs at least one value, got ${listed(strings)}`,
          };
    case "Exists":
    case "DoesNotExist":
      return strings.length === 0
        ? undefined
        : { field: "values", value: values, message: `${operator} takes no values, got ${listed(strings)}` };
    default: // Gt, Lt
      return strings.length === 1 && parseInt64(strings[0] ?? "") !== undefined
        ? undefined
        : {
            field: "values",
            value: values,
            message: `${operator} needs exactly one integer value, got ${listed(strings)}`,
          };
  }
}

/** A list of values as a message shows it: the values themselves (label values are short). */
function listed(values: readonly string[]): string {
  return values.length === 0 ? "none" : JSON.stringify(values);
}

function labelMatches(req: NodeSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const value = has ? labels[req.key] : undefined;
  const values = req.values ?? [];
  switch (req.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      return value === undefined || !values.includes(value);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
    case "Gt":
    case "Lt": {
      const actual = value === undefined ? undefined : parseInt64(value);
      const bound = parseInt64(values[0] ?? "");
      if (actual === undefined || bound === undefined) return false;
      return req.operator === "Gt" ? actual > bound : actual < bound;
    }
  }
}

function fieldMatches(req: NodeSelectorRequirement, node: SelectableNode): boolean {
  // Well-formed field requirements are In/NotIn on metadata.name with one value.
  const equal = req.values?.[0] === node.name;
  return req.operator === "In" ? equal : !equal;
}

function termMatches(term: NodeSelectorTerm, node: SelectableNode): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  if (expressions.some((req) => requirementProblem(req, "labels") !== undefined)) return false;
  if (fields.some((req) => requirementProblem(req, "fields") !== undefined)) return false;
  return (
    expressions.every((req) => labelMatches(req, node.labels)) &&
    fields.every((req) => fieldMatches(req, node))
  );
}

export function nodeSelectorMatches(selector: NodeSelector | undefined, node: SelectableNode): boolean {
  if (selector === undefined) return true;
  return selector.nodeSelectorTerms.some((term) => termMatches(term, node));
}
