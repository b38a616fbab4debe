/**
 * The double's etcd and registry: objects by type, one global resourceVersion counter,
 * a bounded history of changes for watches, and field ownership for server-side apply.
 */
import { ApiError, notFound } from "./errors.ts";
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
import { clone, deepEqual, isObject, type Json, type JsonObject, mergePatch, omitKeys } from "./json.ts";
import { apiVersionOf, type ResourceType, typeKey } from "./resources.ts";

export type Subresource = "" | "status";
export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change; `previous` lets filtered watches see objects entering or leaving their selector. */
export interface Change {
  readonly rv: number;
  readonly type: ChangeType;
  readonly resource: string;
  readonly object: JsonObject;
  readonly previous?: JsonObject;
}

interface Owner {
  readonly manager: string;
  readonly operation: "Apply" | "Update";
  readonly subresource: Subresource;
  paths: Set<string>;
  time: string;
}

interface Entry {
  obj: JsonObject;
  owners: Owner[];
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SPEC_METADATA = ["labels", "annotations", "ownerReferences", "finalizers"] as const;

export function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function metadataOf(obj: JsonObject): JsonObject {
  return isObject(obj.metadata) ? obj.metadata : {};
}

/** The part of an object a write to `sub` may change, as server-side apply sees it. */
function scopeOf(obj: JsonObject, type: ResourceType, sub: Subresource): JsonObject {
  if (sub === "status") return obj.status === undefined ? {} : { status: obj.status };
  const dropped = ["apiVersion", "kind", "metadata", ...(type.statusSubresource ? ["status"] : [])];
  const out: Record<string, Json> = { ...omitKeys(obj, dropped) };
  const metadata = metadataOf(obj);
  const kept: Record<string, Json> = {};
  for (const key of SPEC_METADATA) if (metadata[key] !== undefined) kept[key] = metadata[key];
  if (Object.keys(kept).length > 0) out.metadata = kept;
  return out;
}

/** What metadata.generation tracks: everything but metadata and status. */
function specOf(obj: JsonObject): JsonObject {
  return omitKeys(obj, ["apiVersion", "kind", "metadata", "status"]);
}

function pathScope(encoded: string): Subresource {
  const first = decodePath(encoded)[0];
  return first !== undefined && "f" in first && first.f === "status" ? "status" : "";
}

export class ObjectStore {
  #rv = 0;
  #compactedRv = 0;
  #history: Change[] = [];
  #historyLimit: number;
  readonly #entries = new Map<string, Map<string, Entry>>();
  readonly #listeners = new Set<(change: Change) => void>();

  constructor(historyLimit: number) {
    this.#historyLimit = historyLimit;
  }

  get resourceVersion(): number {
    return this.#rv;
  }

  /** Changes at or below this resourceVersion are no longer available to watches. */
  get compactedRv(): number {
    return this.#compactedRv;
  }

  setHistoryLimit(limit: number): void {
    this.#historyLimit = limit;
    this.#trim();
  }

  /** Forget all history: every watch from an older resourceVersion now gets 410 Gone. */
  compact(): void {
    this.#compactedRv = this.#rv;
    this.#history = [];
  }

  /** Changes after `rv`, or "expired" when some of them were compacted away. */
  since(rv: number): Change[] | "expired" {
    if (rv < this.#compactedRv) return "expired";
    return this.#history.filter((c) => c.rv > rv);
  }

  subscribe(listener: (change: Change) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  list(type: ResourceType, namespace?: string): JsonObject[] {
    const byName = this.#entries.get(typeKey(type));
    if (byName === undefined) return [];
    return [...byName.entries()]
      .filter(([key]) => namespace === undefined || key.startsWith(`${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, entry]) => this.#render(type, entry));
  }

  get(type: ResourceType, namespace: string, name: string): JsonObject | undefined {
    const entry = this.#entry(type, namespace, name);
    return entry === undefined ? undefined : this.#render(type, entry);
  }

  create(type: ResourceType, namespace: string, body: JsonObject, manager: string): JsonObject {
    const metadata = metadataOf(body);
    let name = typeof metadata.name === "string" ? metadata.name : "";
    if (name === "" && typeof metadata.generateName === "string") {
      name = `${metadata.generateName}${Math.random().toString(36).slice(2, 7)}`;
    }
    if (name === "")
      throw new ApiError(422, "Invalid", `${type.kind} is invalid: metadata.name: Required value`);
    if (this.#entry(type, namespace, name) !== undefined) {
      throw new ApiError(409, "AlreadyExists", `${type.plural} "${name}" already exists`);
    }
    const dropStatus = type.custom && type.statusSubresource;
    const obj = this.#fresh(type, namespace, name, dropStatus ? omitKeys(body, ["status"]) : body);
    this.#validate(type, name, obj);
    const entry: Entry = { obj, owners: [] };
    this.#claimChanged(type, entry, {}, obj, manager, "");
    if (type.statusSubresource && !dropStatus) this.#claimChanged(type, entry, {}, obj, manager, "status");
    return this.#commit(type, namespace, name, entry, undefined);
  }

  /** PUT: replace what `sub` may change; a stale metadata.resourceVersion is a conflict. */
  update(
    type: ResourceType,
    namespace: string,
    name: string,
    body: JsonObject,
    sub: Subresource,
    manager: string,
  ): JsonObject {
    const entry = this.#require(type, namespace, name);
    this.#checkPrecondition(type, name, entry, body);
    const next = this.#combine(type, entry.obj, body, sub);
    return this.#write(type, namespace, name, entry, next, sub, manager);
  }

  /** PATCH with application/merge-patch+json. */
  mergePatch(
    type: ResourceType,
    namespace: string,
    name: string,
    patch: JsonObject,
    sub: Subresource,
    manager: string,
  ): JsonObject {
    const entry = this.#require(type, namespace, name);
    this.#checkPrecondition(type, name, entry, patch);
    const patched = mergePatch(entry.obj, patch);
    if (!isObject(patched)) throw new ApiError(400, "BadRequest", "merge patch must be an object");
    const next = this.#combine(type, entry.obj, patched, sub);
    return this.#write(type, namespace, name, entry, next, sub, manager);
  }

  /** PATCH with application/apply-patch+yaml: server-side apply, creating the object when absent (not via /status). */
  apply(
    type: ResourceType,
    namespace: string,
    name: string,
    config: JsonObject,
    sub: Subresource,
    manager: string | undefined,
    force: boolean,
  ): JsonObject {
    if (manager === undefined || manager === "") {
      throw new ApiError(
        400,
        "BadRequest",
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
      );
    }
    if (config.apiVersion !== apiVersionOf(type) || config.kind !== type.kind) {
      throw new ApiError(
        400,
        "BadRequest",
        `apply patch: apiVersion and kind must be ${apiVersionOf(type)} ${type.kind}, got ${String(config.apiVersion)} ${String(config.kind)}`,
      );
    }
    const configName = metadataOf(config).name;
    if (configName !== undefined && configName !== name) {
      throw new ApiError(
        400,
        "BadRequest",
        `the name of the object (${String(configName)}) does not match the name on the URL (${name})`,
      );
    }
    let entry = this.#entry(type, namespace, name);
    const existed = entry !== undefined;
    if (entry === undefined) {
      if (sub === "status") throw notFound(type.plural, name);
      entry = { obj: this.#fresh(type, namespace, name, { metadata: {} }), owners: [] };
    }
    const scoped = scopeOf(config, type, sub);
    const applied = leafPaths(scoped, type.listMapKeys);
    const mine = (o: Owner) => o.manager === manager && o.operation === "Apply" && o.subresource === sub;
    const others = entry.owners.filter((o) => !mine(o));

    const conflicts: { owner: Owner; path: FieldPath; theirs: string }[] = [];
    for (const encoded of applied) {
      const path = decodePath(encoded);
      if (isItemPath(path)) continue;
      for (const owner of others) {
        for (const theirs of owner.paths) {
          const other = decodePath(theirs);
          if (isItemPath(other) || !related(path, other)) continue;
          const shorter = path.length <= other.length ? path : other;
          if (!deepEqual(getAt(entry.obj, shorter), getAt(scoped, shorter)))
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

    let next: Json = clone(entry.obj);
    const own = entry.owners.find(mine);
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
    entry.owners = entry.owners.filter((o) => o.paths.size > 0 || mine(o));
    if (own === undefined)
      entry.owners.push({ manager, operation: "Apply", subresource: sub, paths: applied, time });
    else {
      own.paths = applied;
      own.time = time;
    }
    entry.owners = entry.owners.filter((o) => o.paths.size > 0);
    if (!existed) {
      this.#validate(type, name, next);
      entry.obj = next;
      return this.#commit(type, namespace, name, entry, undefined);
    }
    return this.#finish(type, namespace, name, entry, next);
  }

  delete(type: ResourceType, namespace: string, name: string): JsonObject {
    const byName = this.#entries.get(typeKey(type));
    const entry = this.#require(type, namespace, name);
    byName?.delete(`${namespace}/${name}`);
    const rv = ++this.#rv;
    const object = this.#render(type, entry);
    const metadata = { ...metadataOf(object), resourceVersion: String(rv) };
    const deleted = { ...object, metadata };
    this.#record({ rv, type: "DELETED", resource: typeKey(type), object: deleted, previous: object });
    return deleted;
  }

  /** Test helper: make the object `body`, as if some controller wrote it; a body without status keeps the current one. */
  put(type: ResourceType, namespace: string, body: JsonObject): JsonObject {
    const name = String(metadataOf(body).name ?? "");
    const entry = this.#entry(type, namespace, name);
    if (entry === undefined) {
      const obj = this.#fresh(type, namespace, name, body);
      const created: Entry = { obj, owners: [] };
      this.#claimChanged(type, created, {}, obj, "kube-api-double", "");
      if (type.statusSubresource) this.#claimChanged(type, created, {}, obj, "kube-api-double", "status");
      return this.#commit(type, namespace, name, created, undefined);
    }
    const next: JsonObject = {
      ...body,
      metadata: { ...metadataOf(entry.obj), ...pickSpecMetadata(metadataOf(body)) },
      // Without a status of its own, the object keeps its current one (as a user's apply of a spec would).
      ...(body.status === undefined && entry.obj.status !== undefined ? { status: entry.obj.status } : {}),
    };
    this.#claimChanged(type, entry, entry.obj, next, "kube-api-double", "");
    if (type.statusSubresource) this.#claimChanged(type, entry, entry.obj, next, "kube-api-double", "status");
    return this.#finish(type, namespace, name, entry, next);
  }

  #entry(type: ResourceType, namespace: string, name: string): Entry | undefined {
    return this.#entries.get(typeKey(type))?.get(`${namespace}/${name}`);
  }

  #require(type: ResourceType, namespace: string, name: string): Entry {
    const entry = this.#entry(type, namespace, name);
    if (entry === undefined) throw notFound(type.plural, name);
    return entry;
  }

  #checkPrecondition(type: ResourceType, name: string, entry: Entry, body: JsonObject): void {
    const wanted = metadataOf(body).resourceVersion;
    if (typeof wanted === "string" && wanted !== "" && wanted !== metadataOf(entry.obj).resourceVersion) {
      throw new ApiError(
        409,
        "Conflict",
        `Operation cannot be fulfilled on ${type.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
  }

  /** A new object's server-set metadata. */
  #fresh(type: ResourceType, namespace: string, name: string, body: JsonObject): JsonObject {
    if (name.length > 253 || !NAME_RE.test(name)) {
      throw new ApiError(
        422,
        "Invalid",
        `${type.kind} "${name}" is invalid: metadata.name: Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      );
    }
    const metadata: Record<string, Json> = {
      ...pickSpecMetadata(metadataOf(body)),
      name,
      uid: crypto.randomUUID(),
      creationTimestamp: nowRfc3339(),
      generation: 1,
    };
    if (type.namespaced) metadata.namespace = namespace;
    return { ...body, apiVersion: apiVersionOf(type), kind: type.kind, metadata };
  }

  /** The object after a write to `sub`: the written part from `body`, the rest kept. */
  #combine(type: ResourceType, current: JsonObject, body: JsonObject, sub: Subresource): JsonObject {
    if (sub === "status") {
      const next: Record<string, Json> = { ...current };
      if (body.status === undefined) delete next.status;
      else next.status = body.status;
      return next;
    }
    const metadata = {
      ...omitKeys(metadataOf(current), SPEC_METADATA),
      ...pickSpecMetadata(metadataOf(body)),
    };
    const next: Record<string, Json> = { ...body, metadata };
    if (type.statusSubresource) {
      if (current.status === undefined) delete next.status;
      else next.status = current.status;
    }
    return next;
  }

  #write(
    type: ResourceType,
    namespace: string,
    name: string,
    entry: Entry,
    next: JsonObject,
    sub: Subresource,
    manager: string,
  ): JsonObject {
    this.#claimChanged(type, entry, entry.obj, next, manager, sub);
    return this.#finish(type, namespace, name, entry, next);
  }

  /** Non-apply writes: the writer takes the fields whose value it changed; removed fields lose their owners. */
  #claimChanged(
    type: ResourceType,
    entry: Entry,
    before: JsonObject,
    after: JsonObject,
    manager: string,
    sub: Subresource,
  ): void {
    const scopeSub: Subresource = type.statusSubresource ? sub : "";
    const inScope = (p: string) => !type.statusSubresource || pathScope(p) === scopeSub;
    const now = leafPaths(scopeOf(after, type, scopeSub), type.listMapKeys);
    const changed = [...now].filter(
      (p) => !deepEqual(getAt(before, decodePath(p)), getAt(after, decodePath(p))),
    );
    for (const owner of entry.owners) {
      for (const p of [...owner.paths])
        if (inScope(p) && (!now.has(p) || changed.includes(p))) owner.paths.delete(p);
    }
    if (changed.length > 0) {
      const time = nowRfc3339();
      let own = entry.owners.find(
        (o) => o.manager === manager && o.operation === "Update" && o.subresource === sub,
      );
      if (own === undefined) {
        own = { manager, operation: "Update", subresource: sub, paths: new Set(), time };
        entry.owners.push(own);
      }
      for (const p of changed) own.paths.add(p);
      own.time = time;
    }
    entry.owners = entry.owners.filter((o) => o.paths.size > 0);
  }

  #validate(type: ResourceType, name: string, obj: JsonObject): void {
    const problems = type.validate?.(obj) ?? [];
    if (problems.length > 0) {
      throw new ApiError(
        422,
        "Invalid",
        `${type.kind}.${type.group || "core"} "${name}" is invalid: [${problems.join(", ")}]`,
      );
    }
  }

  /** Bump generation on spec changes, keep server-owned metadata, commit unless nothing changed. */
  #finish(type: ResourceType, namespace: string, name: string, entry: Entry, next: JsonObject): JsonObject {
    this.#validate(type, name, next);
    const before = entry.obj;
    const oldMeta = metadataOf(before);
    const generation = Number(oldMeta.generation ?? 1) + (deepEqual(specOf(before), specOf(next)) ? 0 : 1);
    const metadata: Record<string, Json> = {
      ...metadataOf(next),
      name,
      uid: oldMeta.uid ?? null,
      creationTimestamp: oldMeta.creationTimestamp ?? null,
      generation,
    };
    if (type.namespaced) metadata.namespace = namespace;
    delete metadata.resourceVersion;
    delete metadata.managedFields;
    const candidate: JsonObject = { ...next, apiVersion: apiVersionOf(type), kind: type.kind, metadata };
    const unchanged = deepEqual(
      { ...candidate, metadata: omitKeys(metadata, ["resourceVersion"]) },
      { ...before, metadata: omitKeys(oldMeta, ["resourceVersion"]) },
    );
    // A no-op write does not bump the resourceVersion or notify watchers (as the API server).
    if (unchanged) return this.#render(type, entry);
    const previous = this.#render(type, entry);
    entry.obj = candidate;
    return this.#commit(type, namespace, name, entry, previous);
  }

  #commit(
    type: ResourceType,
    namespace: string,
    name: string,
    entry: Entry,
    previous: JsonObject | undefined,
  ): JsonObject {
    const rv = ++this.#rv;
    entry.obj = { ...entry.obj, metadata: { ...metadataOf(entry.obj), resourceVersion: String(rv) } };
    let byName = this.#entries.get(typeKey(type));
    if (byName === undefined) {
      byName = new Map();
      this.#entries.set(typeKey(type), byName);
    }
    byName.set(`${namespace}/${name}`, entry);
    const object = this.#render(type, entry);
    this.#record({
      rv,
      type: previous === undefined ? "ADDED" : "MODIFIED",
      resource: typeKey(type),
      object,
      ...(previous === undefined ? {} : { previous }),
    });
    return object;
  }

  #record(change: Change): void {
    this.#history.push(change);
    this.#trim();
    for (const listener of this.#listeners) listener(change);
  }

  #trim(): void {
    const excess = this.#history.length - this.#historyLimit;
    if (excess <= 0) return;
    const dropped = this.#history.splice(0, excess);
    this.#compactedRv = dropped[dropped.length - 1]!.rv;
  }

  #render(type: ResourceType, entry: Entry): JsonObject {
    const managedFields: Json[] = entry.owners.map((o) => ({
      manager: o.manager,
      operation: o.operation,
      apiVersion: apiVersionOf(type),
      time: o.time,
      fieldsType: "FieldsV1",
      fieldsV1: toFieldsV1(o.paths),
      ...(o.subresource === "" ? {} : { subresource: o.subresource }),
    }));
    return clone({ ...entry.obj, metadata: { ...metadataOf(entry.obj), managedFields } });
  }
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

function pickSpecMetadata(metadata: JsonObject): JsonObject {
  const out: Record<string, Json> = {};
  for (const key of SPEC_METADATA) if (metadata[key] !== undefined) out[key] = metadata[key];
  return out;
}
