/**
 * Field ownership for server-side apply (metadata.managedFields): which manager owns
 * which leaf paths, when an apply conflicts, what an apply removes, and how other
 * writes take the fields they change.
 */
import { ApiError } from "./errors.ts";
import {
  decodePath,
  deleteAt,
  describePath,
  type FieldPath,
  getAt,
  isItemPath,
  leafPaths,
  mergeApplied,
  related,
  toFieldsV1,
} from "./field-paths.ts";
import { clone, deepEqual, isObject, type Json, type JsonObject, omitKeys } from "./json.ts";
import { metadataOf, nowRfc3339, pickSpecMetadata } from "./object-metadata.ts";
import { apiVersionOf, type ResourceType, type Subresource } from "./resources.ts";

export interface Owner {
  readonly manager: string;
  readonly operation: "Apply" | "Update";
  readonly subresource: Subresource;
  paths: Set<string>;
  time: string;
}

/** The part of an object a write to `sub` may change, as server-side apply sees it. */
function scopeOf(obj: JsonObject, type: ResourceType, sub: Subresource): JsonObject {
  if (sub === "status") return obj.status === undefined ? {} : { status: obj.status };
  const dropped = ["apiVersion", "kind", "metadata", ...(type.statusSubresource ? ["status"] : [])];
  const out: Record<string, Json> = { ...omitKeys(obj, dropped) };
  const kept = pickSpecMetadata(metadataOf(obj));
  if (Object.keys(kept).length > 0) out.metadata = kept;
  return out;
}

function pathScope(encoded: string): Subresource {
  const first = decodePath(encoded)[0];
  return first !== undefined && "f" in first && first.f === "status" ? "status" : "";
}

/**
 * Non-apply writes: the writer takes the fields whose value it changed; removed fields
 * lose their owners. Updates the owners' paths in place and returns the owners left.
 */
export function claimChanged(
  type: ResourceType,
  owners: Owner[],
  before: JsonObject,
  after: JsonObject,
  manager: string,
  sub: Subresource,
): Owner[] {
  const scopeSub: Subresource = type.statusSubresource ? sub : "";
  const inScope = (p: string) => !type.statusSubresource || pathScope(p) === scopeSub;
  const now = leafPaths(scopeOf(after, type, scopeSub), type.listMapKeys);
  const changed = [...now].filter(
    (p) => !deepEqual(getAt(before, decodePath(p)), getAt(after, decodePath(p))),
  );
  for (const owner of owners) {
    for (const p of [...owner.paths])
      if (inScope(p) && (!now.has(p) || changed.includes(p))) owner.paths.delete(p);
  }
  if (changed.length > 0) {
    const time = nowRfc3339();
    let own = owners.find((o) => o.manager === manager && o.operation === "Update" && o.subresource === sub);
    if (own === undefined) {
      own = { manager, operation: "Update", subresource: sub, paths: new Set(), time };
      owners.push(own);
    }
    for (const p of changed) own.paths.add(p);
    own.time = time;
  }
  return owners.filter((o) => o.paths.size > 0);
}

/**
 * Server-side apply of `config` by `manager` to `current`: a 409 on conflicts unless
 * `force` (which takes the fields over); the fields the manager stopped applying go
 * unless someone else owns them. Returns the object and its owners after the apply;
 * owners' paths are updated in place.
 */
export function applyConfig(
  type: ResourceType,
  current: JsonObject,
  owners: Owner[],
  config: JsonObject,
  sub: Subresource,
  manager: string,
  force: boolean,
): { readonly next: JsonObject; readonly owners: Owner[] } {
  const scoped = scopeOf(config, type, sub);
  const applied = leafPaths(scoped, type.listMapKeys);
  const mine = (o: Owner) => o.manager === manager && o.operation === "Apply" && o.subresource === sub;
  const others = owners.filter((o) => !mine(o));

  const conflicts: { owner: Owner; path: FieldPath; theirs: string }[] = [];
  for (const encoded of applied) {
    const path = decodePath(encoded);
    if (isItemPath(path)) continue;
    for (const owner of others) {
      for (const theirs of owner.paths) {
        const other = decodePath(theirs);
        if (isItemPath(other) || !related(path, other)) continue;
        const shorter = path.length <= other.length ? path : other;
        if (!deepEqual(getAt(current, shorter), getAt(scoped, shorter)))
          conflicts.push({ owner, path: shorter, theirs });
      }
    }
  }
  if (conflicts.length > 0 && !force) {
    const lines = conflicts.map((c) => `conflict with "${c.owner.manager}": ${describePath(c.path)}`);
    throw new ApiError(
      409,
      "Conflict",
      `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? "" : "s"}: ${lines.join("; ")}`,
    );
  }
  for (const c of conflicts) c.owner.paths.delete(c.theirs);

  let next: Json = clone(current);
  const own = owners.find(mine);
  const dropped = own === undefined ? [] : [...own.paths].filter((p) => !applied.has(p));
  const sharedElsewhere = (path: FieldPath) =>
    others.some((o) => [...o.paths].some((q) => related(path, decodePath(q))));
  // Shallowest first, so a dropped list item goes whole; an item's key fields go only with it.
  for (const encoded of dropped.sort((a, b) => decodePath(a).length - decodePath(b).length)) {
    const path = decodePath(encoded);
    if (!sharedElsewhere(path) && !isItemKeyField(path)) deleteAt(next, path);
  }
  next = mergeApplied(next, scoped, type.listMapKeys);
  if (!isObject(next)) throw new Error("apply produced a non-object");

  const time = nowRfc3339();
  const kept = owners.filter((o) => o.paths.size > 0 || mine(o));
  if (own === undefined) kept.push({ manager, operation: "Apply", subresource: sub, paths: applied, time });
  else {
    own.paths = applied;
    own.time = time;
  }
  return { next, owners: kept.filter((o) => o.paths.size > 0) };
}

/** The owners as metadata.managedFields entries (FieldsV1). */
export function renderManagedFields(type: ResourceType, owners: readonly Owner[]): Json[] {
  return owners.map((o) => ({
    manager: o.manager,
    operation: o.operation,
    apiVersion: apiVersionOf(type),
    time: o.time,
    fieldsType: "FieldsV1",
    fieldsV1: toFieldsV1(o.paths),
    ...(o.subresource === "" ? {} : { subresource: o.subresource }),
  }));
}

/** `…[type="Accepted"].type`: the key field of a list item, which identifies the item rather than belonging to it. */
function isItemKeyField(path: FieldPath): boolean {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  return (
    last !== undefined &&
    parent !== undefined &&
    "f" in last &&
    "k" in parent &&
    Object.hasOwn(parent.k, last.f)
  );
}
