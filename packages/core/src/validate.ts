/**
 * Validation of a Route as received (SPEC §1). The agent validates again whatever
 * admission checked, because older clusters and other API groups skip CRD rules.
 *
 * What is refused, and at which level:
 * - one destination that is not a CIDR or address: that destination only (`issues`);
 *   the rest of the Route stays usable;
 * - the whole Route (`ok: false`) when it cannot be used as its author meant:
 *   no name, spec not an object, no valid destination, gateways missing or any one
 *   gateway invalid (dropping it would silently change the ECMP set the author asked
 *   for, so we refuse rather than guess), a malformed nodeSelector (we cannot know
 *   which nodes were meant), or a bad probe or table value.
 * - normalisations (host bits cleared, duplicates dropped, unknown fields ignored)
 *   are `warnings`.
 *
 * Protected destinations, "no gateway of this destination's family" and a table that is
 * the agent's reply table depend on the node and the agent's settings, so the
 * desired-table computation judges them (see protectedReason, gatewaysForFamily and
 * tableRefusal).
 *
 * A missing (or unparseable) creationTimestamp becomes "", which the conflict rule
 * (oldest wins) ranks before every real time: a hand-written Route without one counts
 * as the oldest (contribution.ts, ageKey).
 *
 * validateRoute never throws, whatever it is given.
 */
import {
  type Family,
  familyOf,
  type IpAddr,
  type Prefix,
  parseIp,
  parsePrefix,
  prefixContains,
} from "./ip.ts";
import { show } from "./json-reader.ts";
import { BUILTIN_PROTECTED } from "./protected.ts";
import type {
  FieldIssue,
  NodeSelector,
  NodeSelectorRequirement,
  NodeSelectorTerm,
  RouteObject,
  RouteValidation,
  ValidDestination,
} from "./route.ts";
import { MAX_SELECTOR_REQUIREMENTS, MAX_SELECTOR_TERMS, requirementProblem } from "./selector.ts";

export const MAX_DESTINATIONS = 1024;
export const MAX_GATEWAYS = 32;
export const MAIN_TABLE = 254;
const MAX_TABLE = 4294967295;
const RESERVED_TABLES: ReadonlyMap<number, string> = new Map([
  [0, "0 is not a table (RT_TABLE_UNSPEC)"],
  [253, "253 is the kernel's default table; kroute does not write it"],
  [255, "255 is the kernel's local table; kroute never writes it"],
]);
const SPEC_FIELDS: readonly string[] = ["destinations", "gateways", "nodeSelector", "probe", "table"];

/** `spec.destinations[3]: "10.0.0.300/8" is not an IPv4 or IPv6 CIDR` */
export function formatIssue(issue: FieldIssue): string {
  return `${issue.field}: ${issue.message}`;
}

/** The gateways of a Route that can carry a destination of `family`. */
export function gatewaysForFamily(route: { readonly gateways: readonly IpAddr[] }, family: Family): IpAddr[] {
  return route.gateways.filter((gateway) => familyOf(gateway) === family);
}

type Json = Record<string, unknown>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Collects problems while one Route is read. */
class Findings {
  /** Problems that make the whole Route unusable. */
  readonly fatal: FieldIssue[] = [];
  /** Problems confined to one destination. */
  readonly issues: FieldIssue[] = [];
  readonly warnings: FieldIssue[] = [];
}

const issue = (field: string, value: unknown, message: string): FieldIssue => ({ field, value, message });

function readDestinations(raw: unknown, found: Findings): ValidDestination[] {
  const field = "spec.destinations";
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_DESTINATIONS) {
    const what = Array.isArray(raw) ? `${raw.length} entries` : show(raw);
    found.fatal.push(issue(field, raw, `must be a list of 1..${MAX_DESTINATIONS} CIDRs, got ${what}`));
    return [];
  }
  const valid: ValidDestination[] = [];
  const seen = new Map<Prefix, number>();
  raw.forEach((entry: unknown, index) => {
    const path = `${field}[${index}]`;
    if (typeof entry !== "string") {
      found.issues.push(issue(path, entry, `${show(entry)} is not a string`));
      return;
    }
    const parsed = parsePrefix(entry);
    if (!parsed.ok) {
      const detail = parsed.error.startsWith("prefix length") ? ` (${parsed.error.split(":")[0]})` : "";
      found.issues.push(issue(path, entry, `${show(entry)} is not an IPv4 or IPv6 CIDR${detail}`));
      return;
    }
    if (parsed.warning !== undefined) found.warnings.push(issue(path, entry, parsed.warning));
    const first = seen.get(parsed.value);
    if (first !== undefined) {
      found.warnings.push(issue(path, entry, `${parsed.value} repeats ${field}[${first}]; ignored`));
      return;
    }
    seen.set(parsed.value, index);
    valid.push({ index, prefix: parsed.value, family: familyOf(parsed.value) });
  });
  if (valid.length === 0) found.fatal.push(issue(field, raw, "no valid destination"));
  return valid;
}

function gatewayProblem(address: IpAddr): string | undefined {
  const reserved = BUILTIN_PROTECTED.find((r) => !r.gatewayAllowed && prefixContains(r.prefix, address));
  return reserved === undefined
    ? undefined
    : `${address} lies within ${reserved.prefix} (${reserved.name}); not a usable gateway`;
}

function readGateways(raw: unknown, found: Findings): IpAddr[] {
  const field = "spec.gateways";
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_GATEWAYS) {
    const what = Array.isArray(raw) ? `${raw.length} entries` : show(raw);
    found.fatal.push(issue(field, raw, `must be a list of 1..${MAX_GATEWAYS} IP addresses, got ${what}`));
    return [];
  }
  const gateways: IpAddr[] = [];
  const seen = new Map<IpAddr, number>();
  raw.forEach((entry: unknown, index) => {
    const path = `${field}[${index}]`;
    const parsed = typeof entry === "string" ? parseIp(entry) : undefined;
    if (parsed === undefined || !parsed.ok) {
      found.fatal.push(issue(path, entry, `${show(entry)} is not an IPv4 or IPv6 address`));
      return;
    }
    const problem = gatewayProblem(parsed.value);
    if (problem !== undefined) {
      found.fatal.push(issue(path, entry, problem));
      return;
    }
    const first = seen.get(parsed.value);
    if (first !== undefined) {
      found.warnings.push(issue(path, entry, `${parsed.value} repeats ${field}[${first}]; ignored`));
      return;
    }
    seen.set(parsed.value, index);
    gateways.push(parsed.value);
  });
  return gateways;
}

function readRequirements(
  raw: unknown,
  path: string,
  kind: "labels" | "fields",
  found: Findings,
): NodeSelectorRequirement[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    found.fatal.push(issue(path, raw, `must be a list of requirements, got ${show(raw)}`));
    return [];
  }
  if (raw.length > MAX_SELECTOR_REQUIREMENTS) {
    found.fatal.push(issue(path, raw, `${raw.length} requirements; at most ${MAX_SELECTOR_REQUIREMENTS}`));
    return [];
  }
  const requirements: NodeSelectorRequirement[] = [];
  raw.forEach((entry: unknown, index) => {
    const problem = requirementProblem(entry, kind);
    if (problem !== undefined) {
      found.fatal.push(issue(`${path}[${index}].${problem.field}`, problem.value, problem.message));
      return;
    }
    // Well formed, so these casts only restate what requirementProblem checked.
    const { key, operator, values } = entry as NodeSelectorRequirement;
    requirements.push(Array.isArray(values) ? { key, operator, values: [...values] } : { key, operator });
  });
  return requirements;
}

function readNodeSelector(raw: unknown, found: Findings): NodeSelector | undefined {
  const field = "spec.nodeSelector";
  if (raw === undefined || raw === null) return undefined;
  if (!isRecord(raw) || !Array.isArray(raw.nodeSelectorTerms)) {
    found.fatal.push(issue(field, raw, "must be an object with a nodeSelectorTerms list"));
    return undefined;
  }
  if (raw.nodeSelectorTerms.length > MAX_SELECTOR_TERMS) {
    const count = raw.nodeSelectorTerms.length;
    found.fatal.push(
      issue(
        `${field}.nodeSelectorTerms`,
        raw.nodeSelectorTerms,
        `${count} terms; at most ${MAX_SELECTOR_TERMS}`,
      ),
    );
    return undefined;
  }
  const terms: NodeSelectorTerm[] = [];
  raw.nodeSelectorTerms.forEach((term: unknown, index) => {
    const path = `${field}.nodeSelectorTerms[${index}]`;
    if (!isRecord(term)) {
      found.fatal.push(issue(path, term, `must be an object, got ${show(term)}`));
      return;
    }
    const matchExpressions = readRequirements(
      term.matchExpressions,
      `${path}.matchExpressions`,
      "labels",
      found,
    );
    const matchFields = readRequirements(term.matchFields, `${path}.matchFields`, "fields", found);
    if (matchExpressions.length === 0 && matchFields.length === 0) {
      found.warnings.push(issue(path, term, "an empty term matches no node"));
    }
    terms.push({
      ...(matchExpressions.length > 0 ? { matchExpressions } : {}),
      ...(matchFields.length > 0 ? { matchFields } : {}),
    });
  });
  if (terms.length === 0)
    found.warnings.push(issue(`${field}.nodeSelectorTerms`, [], "no terms: matches no node"));
  return { nodeSelectorTerms: terms };
}

function readTable(raw: unknown, found: Findings): number {
  if (raw === undefined || raw === null) return MAIN_TABLE;
  const reserved = typeof raw === "number" ? RESERVED_TABLES.get(raw) : undefined;
  if (reserved !== undefined) {
    found.fatal.push(issue("spec.table", raw, reserved));
  } else if (typeof raw !== "number" || !Number.isInteger(raw) || raw < 1 || raw > MAX_TABLE) {
    found.fatal.push(issue("spec.table", raw, `${show(raw)} is not a table id (an integer 1..${MAX_TABLE})`));
  }
  return typeof raw === "number" ? raw : MAIN_TABLE;
}

function readProbe(raw: unknown, found: Findings): boolean {
  if (raw === undefined || raw === null) return true;
  if (typeof raw !== "boolean")
    found.fatal.push(issue("spec.probe", raw, `${show(raw)} is not true or false`));
  return raw !== false;
}

function readMetadata(
  raw: unknown,
  found: Findings,
): { name: string; generation: number; creationTimestamp: string } {
  const meta = isRecord(raw) ? raw : {};
  const { name, generation, creationTimestamp } = meta;
  if (typeof name !== "string" || name === "") {
    found.fatal.push(issue("metadata.name", name, `required; got ${show(name)}`));
  }
  const generationOk = typeof generation === "number" && Number.isSafeInteger(generation) && generation >= 0;
  if (generation !== undefined && !generationOk) {
    found.warnings.push(
      issue("metadata.generation", generation, `${show(generation)} is not a count; using 0`),
    );
  }
  const timeOk = typeof creationTimestamp === "string" && !Number.isNaN(Date.parse(creationTimestamp));
  if (creationTimestamp !== undefined && !timeOk) {
    found.warnings.push(
      issue(
        "metadata.creationTimestamp",
        creationTimestamp,
        `${show(creationTimestamp)} is not a time; the Route counts as the oldest in conflicts`,
      ),
    );
  }
  return {
    name: typeof name === "string" ? name : "",
    generation: generationOk ? generation : 0,
    creationTimestamp: timeOk ? creationTimestamp : "",
  };
}

export function validateRoute(obj: RouteObject): RouteValidation {
  const found = new Findings();
  const raw: unknown = obj;
  const { name, generation, creationTimestamp } = readMetadata(
    isRecord(raw) ? raw.metadata : undefined,
    found,
  );
  const spec = isRecord(raw) ? raw.spec : undefined;
  if (!isRecord(spec)) {
    found.fatal.push(issue("spec", spec, `must be an object, got ${show(spec)}`));
    return { ok: false, name, generation, issues: found.fatal };
  }
  const destinations = readDestinations(spec.destinations, found);
  const gateways = readGateways(spec.gateways, found);
  const nodeSelector = readNodeSelector(spec.nodeSelector, found);
  const probe = readProbe(spec.probe, found);
  const table = readTable(spec.table, found);
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.includes(key))
      found.warnings.push(issue(`spec.${key}`, spec[key], "unknown field, ignored"));
  }
  if (found.fatal.length > 0)
    return { ok: false, name, generation, issues: [...found.fatal, ...found.issues] };
  return {
    ok: true,
    route: {
      name,
      generation,
      creationTimestamp,
      destinations,
      gateways,
      ...(nodeSelector === undefined ? {} : { nodeSelector }),
      probe,
      table,
      issues: found.issues,
      warnings: found.warnings,
    },
  };
}
