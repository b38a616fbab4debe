/**
 * Field paths for server-side apply's field ownership, a reduced form of the API
 * server's fieldpath.Set: a leaf is a scalar, an atomic list or an empty object; the
 * items of associative lists (x-kubernetes-list-type: map) are addressed by their key
 * fields, like `k:{"type":"Accepted"}` in FieldsV1.
 */
import { deepEqual, isObject, type Json, type JsonObject } from "./json.ts";

export type Segment = { readonly f: string } | { readonly k: JsonObject };
export type FieldPath = readonly Segment[];
export type ListMapKeys = Readonly<Record<string, readonly string[]>>;

export function encodePath(path: FieldPath): string {
  return JSON.stringify(path);
}

export function decodePath(encoded: string): FieldPath {
  return JSON.parse(encoded) as FieldPath;
}

/** Field names only: the key under which listMapKeys are declared, e.g. "status.conditions". */
function dotted(path: FieldPath): string {
  return path.flatMap((s) => ("f" in s ? [s.f] : [])).join(".");
}

/** `.status.conditions[type="Accepted"].message`, as the API server names fields in conflicts. */
export function describePath(path: FieldPath): string {
  return path
    .map((s) =>
      "f" in s
        ? `.${s.f}`
        : `[${Object.entries(s.k)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(",")}]`,
    )
    .join("");
}

export function isItemPath(path: FieldPath): boolean {
  const last = path[path.length - 1];
  return last !== undefined && "k" in last;
}

function itemKey(item: Json, keys: readonly string[]): JsonObject | undefined {
  if (!isObject(item)) return undefined;
  const out: Record<string, Json> = {};
  for (const k of keys) {
    const v = item[k];
    if (v === undefined) return undefined;
    out[k] = v;
  }
  return out;
}

function matchesKey(item: Json, key: JsonObject): boolean {
  return isObject(item) && Object.entries(key).every(([k, v]) => deepEqual(item[k], v));
}

/** Every leaf and associative-list item under `value`, encoded. */
export function leafPaths(value: Json, lmk: ListMapKeys, prefix: FieldPath = []): Set<string> {
  const out = new Set<string>();
  const walk = (v: Json, path: FieldPath): void => {
    if (isObject(v)) {
      const entries = Object.entries(v);
      if (entries.length === 0 && path.length > 0) out.add(encodePath(path));
      for (const [k, child] of entries) walk(child, [...path, { f: k }]);
      return;
    }
    const keys = lmk[dotted(path)];
    if (Array.isArray(v) && keys !== undefined) {
      for (const item of v) {
        const key = itemKey(item, keys);
        if (key === undefined) continue;
        const itemPath: FieldPath = [...path, { k: key }];
        out.add(encodePath(itemPath));
        walk(item, itemPath);
      }
      return;
    }
    out.add(encodePath(path));
  };
  walk(value, prefix);
  return out;
}

export function getAt(root: Json, path: FieldPath): Json | undefined {
  let cur: Json | undefined = root;
  for (const seg of path) {
    if (cur === undefined) return undefined;
    if ("f" in seg) cur = isObject(cur) ? cur[seg.f] : undefined;
    else
      cur = Array.isArray(cur) ? (cur as readonly Json[]).find((item) => matchesKey(item, seg.k)) : undefined;
  }
  return cur;
}

/** Remove the field or list item at `path` from a mutable copy of a JSON tree. */
export function deleteAt(root: Json, path: FieldPath): void {
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const parent = getAt(root, parentPath);
  if (last === undefined || parent === undefined) return;
  if ("f" in last) {
    if (isObject(parent)) delete (parent as Record<string, Json>)[last.f];
    return;
  }
  if (Array.isArray(parent)) {
    const list = parent as Json[];
    const i = list.findIndex((item) => matchesKey(item, last.k));
    if (i >= 0) list.splice(i, 1);
  }
}

/** Merge an applied configuration into an object: objects and associative lists merge, the rest replaces. */
export function mergeApplied(
  target: Json | undefined,
  config: Json,
  lmk: ListMapKeys,
  path: FieldPath = [],
): Json {
  if (isObject(config)) {
    const out: Record<string, Json> = isObject(target) ? { ...target } : {};
    for (const [k, v] of Object.entries(config)) out[k] = mergeApplied(out[k], v, lmk, [...path, { f: k }]);
    return out;
  }
  const keys = lmk[dotted(path)];
  if (Array.isArray(config) && keys !== undefined && Array.isArray(target)) {
    const out = [...(target as readonly Json[])];
    for (const item of config) {
      const key = itemKey(item, keys);
      const i = key === undefined ? -1 : out.findIndex((t) => matchesKey(t, key));
      if (i >= 0) out[i] = mergeApplied(out[i], item, lmk, [...path, { k: key! }]);
      else out.push(item);
    }
    return out;
  }
  return structuredClone(config) as Json;
}

/** True when one path is a prefix of the other (or they are equal). */
export function related(a: FieldPath, b: FieldPath): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return false;
  return true;
}

/** FieldsV1 rendering of a path set, for metadata.managedFields. */
export function toFieldsV1(paths: Iterable<string>): JsonObject {
  const root: Record<string, Json> = {};
  for (const encoded of paths) {
    let node = root;
    const path = decodePath(encoded);
    for (const seg of path) {
      const name = "f" in seg ? `f:${seg.f}` : `k:${JSON.stringify(seg.k)}`;
      const next = isObject(node[name]) ? { ...(node[name] as JsonObject) } : {};
      node[name] = next;
      node = next;
    }
    if (isItemPath(path)) node["."] = {};
  }
  return root;
}
