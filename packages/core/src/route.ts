/**
 * The Route resource: its wire shape (as the Kubernetes API and the event log carry
 * it, unvalidated) and its validated form used inside the core.
 */
import type { Family, IpAddr, Prefix } from "./ip.ts";

export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt";
  readonly values?: readonly string[];
}

export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  readonly matchFields?: readonly NodeSelectorRequirement[];
}

export interface NodeSelector {
  readonly nodeSelectorTerms: readonly NodeSelectorTerm[];
}

/** A Route object as received: nothing about it is trusted yet. */
export interface RouteObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly generation?: number;
    readonly creationTimestamp?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
  };
  readonly spec: unknown;
}

/** A problem with one field, named by its path, e.g. `spec.destinations[3]`. */
export interface FieldIssue {
  readonly field: string;
  readonly value: unknown;
  readonly message: string;
}

export interface ValidDestination {
  /** Index in spec.destinations, for messages. */
  readonly index: number;
  readonly prefix: Prefix;
  readonly family: Family;
}

/** A Route after validation. Destinations that failed are in `issues`, the rest are usable. */
export interface ValidRoute {
  readonly name: string;
  readonly generation: number;
  readonly creationTimestamp: string;
  readonly destinations: readonly ValidDestination[];
  readonly gateways: readonly IpAddr[];
  /** Absent: every node. */
  readonly nodeSelector?: NodeSelector;
  readonly probe: boolean;
  readonly table: number;
  /** Field-level errors that invalidate only their own element (a bad destination). */
  readonly issues: readonly FieldIssue[];
  /** Normalisations the operator should hear about (host bits cleared). */
  readonly warnings: readonly FieldIssue[];
}

/** Validation outcome: a whole Route is refused only when it cannot be used at all. */
export type RouteValidation =
  | { readonly ok: true; readonly route: ValidRoute }
  | {
      readonly ok: false;
      readonly name: string;
      readonly generation: number;
      readonly issues: readonly FieldIssue[];
    };
