/**
 * The chart's RBAC as a set of grants, and whether a request the API double logged is
 * one of them: so that tests can hold the agent's real requests against the rules.
 */
import { join, resolve } from "node:path";
import type { RequestLogEntry } from "@kroute/lab";
import { parseAllDocuments } from "yaml";
import { renderChart } from "../../src/deploy/chart.ts";

interface Rule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

interface RbacObject {
  readonly kind: string;
  readonly metadata: { readonly namespace?: string };
  readonly rules?: readonly Rule[];
}

const chartDir = join(resolve(import.meta.dirname, "../../../.."), "deploy/helm/kroute");

/** "SCOPE GROUP RESOURCE VERB": SCOPE `cluster` (ClusterRole) or the Role's namespace; GROUP `core` for "". */
export function chartGrants(values: Record<string, unknown> = {}): Set<string> {
  const chart = renderChart(chartDir, { values });
  const objects = chart.templates.flatMap((t) =>
    parseAllDocuments(t.text).map((d) => d.toJS() as RbacObject | null),
  );
  const grants = new Set<string>();
  for (const o of objects) {
    if (o === null || (o.kind !== "ClusterRole" && o.kind !== "Role")) continue;
    const scope = o.kind === "ClusterRole" ? "cluster" : (o.metadata.namespace ?? "?");
    for (const r of o.rules ?? [])
      for (const g of r.apiGroups)
        for (const res of r.resources)
          for (const v of r.verbs) grants.add(`${scope} ${g || "core"} ${res} ${v}`);
  }
  return grants;
}

/**
 * The RBAC verbs a request needs: a server-side apply is a PATCH, and also a create when
 * the object did not exist (the API server answers 201).
 */
function verbsOf(entry: RequestLogEntry): string[] {
  if (entry.verb === undefined) return [];
  if (entry.verb === "apply") return entry.status === 201 ? ["patch", "create"] : ["patch"];
  return [entry.verb];
}

/** The grants a request needs, each as the grant that allows it (cluster-wide, else in its namespace). */
export function grantsNeeded(entry: RequestLogEntry, grants: ReadonlySet<string>): string[] {
  const [group = "", , plural = ""] = (entry.resource ?? "").split("/");
  const resource = entry.subresource ? `${plural}/${entry.subresource}` : plural;
  return verbsOf(entry).map((verb) => {
    const cluster = `cluster ${group || "core"} ${resource} ${verb}`;
    const namespaced = `${entry.namespace ?? "<all namespaces>"} ${group || "core"} ${resource} ${verb}`;
    return grants.has(cluster) || entry.namespace === undefined ? cluster : namespaced;
  });
}
