/**
 * Label and field selectors as the API server parses them (k8s.io/apimachinery
 * labels.Parse and fields.ParseSelector), reduced to what the double serves.
 */
import { isObject, type JsonObject } from "./json.ts";

export type Selector = (obj: JsonObject) => boolean;

export class SelectorError extends Error {}

/** Split on commas that are not inside parentheses: `a in (x,y),b` → ["a in (x,y)", "b"]. */
function splitTerms(input: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of input) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(current);
      current = "";
    } else current += ch;
  }
  terms.push(current);
  return terms.map((t) => t.trim()).filter((t) => t !== "");
}

const KEY = `[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = `([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const SET_RE = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s+\(([^)]*)\)$`);
const EQ_RE = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const EXISTS_RE = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

function labelsOf(obj: JsonObject): Record<string, string> {
  const metadata = obj.metadata;
  const labels = isObject(metadata) ? metadata.labels : undefined;
  const out: Record<string, string> = {};
  if (isObject(labels)) for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  return out;
}

function labelTerm(term: string): Selector {
  const set = SET_RE.exec(term);
  if (set) {
    const key = set[1]!;
    const notin = set[3] === "notin";
    const values = set[4]!.split(",").map((v) => v.trim());
    return (obj) => {
      const labels = labelsOf(obj);
      const has = Object.hasOwn(labels, key) && values.includes(labels[key]!);
      // notin also matches objects without the label at all, as in Kubernetes.
      return notin ? !has : has;
    };
  }
  const eq = EQ_RE.exec(term);
  if (eq) {
    const key = eq[1]!;
    const negate = eq[3] === "!=";
    const value = eq[4] ?? "";
    return (obj) => {
      const labels = labelsOf(obj);
      const equal = Object.hasOwn(labels, key) && labels[key] === value;
      return negate ? !equal : equal;
    };
  }
  const exists = EXISTS_RE.exec(term);
  if (exists) {
    const negate = exists[1] === "!";
    const key = exists[2]!;
    return (obj) => Object.hasOwn(labelsOf(obj), key) !== negate;
  }
  throw new SelectorError(`unable to parse requirement: ${JSON.stringify(term)}`);
}

export function parseLabelSelector(input: string | null): Selector {
  if (input === null) return () => true;
  const terms = splitTerms(input).map(labelTerm);
  return (obj) => terms.every((t) => t(obj));
}

/** Field selectors: every resource supports metadata.name and metadata.namespace, nothing else here. */
const FIELDS: Readonly<Record<string, (obj: JsonObject) => string>> = {
  "metadata.name": (obj) => (isObject(obj.metadata) ? String(obj.metadata.name ?? "") : ""),
  "metadata.namespace": (obj) => (isObject(obj.metadata) ? String(obj.metadata.namespace ?? "") : ""),
};

export function parseFieldSelector(input: string | null): Selector {
  if (input === null) return () => true;
  const terms = splitTerms(input).map((term): Selector => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid selector: '${term}'; can't understand '${term}'`);
    const field = m[1]!;
    const read = FIELDS[field];
    if (read === undefined) throw new SelectorError(`field label not supported: ${field}`);
    const negate = m[2] === "!=";
    const value = m[3]!;
    return (obj) => (read(obj) === value) !== negate;
  });
  return (obj) => terms.every((t) => t(obj));
}
