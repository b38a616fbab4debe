/**
 * A bound on how deep a Route's spec may nest. A valid spec nests 8 levels at most
 * (spec.nodeSelector.nodeSelectorTerms[i].matchExpressions[j].values[k]); a CRD without
 * a schema for spec lets the API server store thousands (Go's JSON decoder takes up to
 * 10,000), and
 * JSON.stringify, which the agent uses to compare and record Routes, throws RangeError
 * past a few thousand. Cut there, a too-deep value becomes a string that validation
 * refuses at its own path (spec.destinations[3], spec.gateways[0]) or ignores as an
 * unknown field: the Route is judged like any other and the agent stays up.
 */
export const MAX_SPEC_DEPTH = 32;

/** What stands in for a value nested deeper than MAX_SPEC_DEPTH. */
export const TOO_DEEP = `(nested more than ${MAX_SPEC_DEPTH} levels deep)`;

/** `value` with everything below MAX_SPEC_DEPTH levels replaced by TOO_DEEP; `value` itself when nothing is. */
export function boundSpecDepth(value: unknown): unknown {
  return nestsDeeper(value, 0) ? cut(value, 0) : value;
}

function nestsDeeper(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (depth >= MAX_SPEC_DEPTH) return true;
  return Object.values(value).some((child) => nestsDeeper(child, depth + 1));
}

function cut(value: unknown, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth >= MAX_SPEC_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((child) => cut(child, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, child]) => [key, cut(child, depth + 1)]));
}
