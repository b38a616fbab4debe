/**
 * The double's etcd and registry: objects by type, and the API server's write rules
 * (create, update, merge patch, apply, delete) on top of the change history and
 * field ownership.
 */
import { ChangeHistory } from "./change-history.ts";
import { ApiError, notFound } from "./errors.ts";
import { clone, deepEqual, isObject, type Json, type JsonObject, mergePatch, omitKeys } from "./json.ts";
import { applyConfig, claimChanged, type Owner, renderManagedFields } from "./managed-fields.ts";
import { freshObject, metadataOf, pickSpecMetadata, SPEC_METADATA, specOf } from "./object-metadata.ts";
import { apiVersionOf, type ResourceType, type Subresource, typeKey } from "./resources.ts";

interface Entry {
  obj: JsonObject;
  owners: Owner[];
}

export class ObjectStore {
  /** Every committed change, for watches; the store is its only writer. */
  readonly history: ChangeHistory;
  readonly #entries = new Map<string, Map<string, Entry>>();

  constructor(historyLimit: number) {
    this.history = new ChangeHistory(historyLimit);
  }

  list(type: ResourceType, namespace?: string): JsonObject[] {
    const byName = this.#entries.get(typeKey(type));
    if (byName === undefined) return [];
    return [...byName.entries()]
      .filter(([key]) => namespace === undefined || key.startsWith(`${namespace}/`))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, entry]) => this.#render(type, entry));
  }

  /**
   * The objects as they were at resourceVersion `rv` (a paginated list's later pages are
   * a snapshot at its first page's), by undoing the changes since; "expired" when some of
   * them were compacted away, as etcd answers a read at a compacted revision.
   */
  listAt(type: ResourceType, rv: number, namespace?: string): JsonObject[] | "expired" {
    const since = this.history.since(rv);
    if (since === "expired") return "expired";
    const byKey = new Map(this.list(type, namespace).map((obj) => [objectKey(obj), obj]));
    for (const change of since.reverse()) {
      if (change.resource !== typeKey(type)) continue;
      const key = objectKey(change.object);
      if (namespace !== undefined && !key.startsWith(`${namespace}/`)) continue;
      if (change.previous === undefined) byKey.delete(key);
      else byKey.set(key, change.previous);
    }
    return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, obj]) => obj);
  }

  get(type: ResourceType, namespace: string, name: string): JsonObject | undefined {
    const entry = this.#entry(type, namespace, name);
    return entry === undefined ? undefined : this.#render(type, entry);
  }

  /** The object's uid, without rendering it (the garbage collector asks this of every owner reference). */
  uidOf(type: ResourceType, namespace: string, name: string): string | undefined {
    const entry = this.#entry(type, namespace, name);
    const uid = entry === undefined ? undefined : metadataOf(entry.obj).uid;
    return typeof uid === "string" ? uid : undefined;
  }

  /** The objects that name owners, with their namespace, name and uid (not rendered: the garbage collector scans them all). */
  *dependents(type: ResourceType): Iterable<JsonObject> {
    for (const entry of this.#entries.get(typeKey(type))?.values() ?? []) {
      const owners = metadataOf(entry.obj).ownerReferences;
      if (Array.isArray(owners) && owners.length > 0) yield metadataOf(entry.obj);
    }
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
    const obj = freshObject(type, namespace, name, dropStatus ? omitKeys(body, ["status"]) : body);
    this.#validate(type, name, obj);
    const entry: Entry = { obj, owners: [] };
    entry.owners = claimChanged(type, entry.owners, {}, obj, manager, "");
    if (type.statusSubresource && !dropStatus)
      entry.owners = claimChanged(type, entry.owners, {}, obj, manager, "status");
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
      entry = { obj: freshObject(type, namespace, name, { metadata: {} }), owners: [] };
    }
    const { next, owners } = applyConfig(type, entry.obj, entry.owners, config, sub, manager, force);
    entry.owners = owners;
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
    const rv = this.history.nextRv();
    const object = this.#render(type, entry);
    const metadata = { ...metadataOf(object), resourceVersion: String(rv) };
    const deleted = { ...object, metadata };
    this.history.record({ rv, type: "DELETED", resource: typeKey(type), object: deleted, previous: object });
    return deleted;
  }

  /** Test helper: make the object `body`, as if some controller wrote it; a body without status keeps the current one. */
  put(type: ResourceType, namespace: string, body: JsonObject): JsonObject {
    const name = String(metadataOf(body).name ?? "");
    const entry = this.#entry(type, namespace, name);
    if (entry === undefined) {
      const obj = freshObject(type, namespace, name, body);
      const created: Entry = { obj, owners: [] };
      this.#claimAsDouble(type, created, {}, obj);
      return this.#commit(type, namespace, name, created, undefined);
    }
    const next: JsonObject = {
      ...body,
      metadata: { ...metadataOf(entry.obj), ...pickSpecMetadata(metadataOf(body)) },
      // Without a status of its own, the object keeps its current one (as a user's apply of a spec would).
      ...(body.status === undefined && entry.obj.status !== undefined ? { status: entry.obj.status } : {}),
    };
    this.#claimAsDouble(type, entry, entry.obj, next);
    return this.#finish(type, namespace, name, entry, next);
  }

  /** put's writes: the double owns what it changed, in the object and its status alike. */
  #claimAsDouble(type: ResourceType, entry: Entry, before: JsonObject, after: JsonObject): void {
    entry.owners = claimChanged(type, entry.owners, before, after, "kube-api-double", "");
    if (type.statusSubresource)
      entry.owners = claimChanged(type, entry.owners, before, after, "kube-api-double", "status");
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
    entry.owners = claimChanged(type, entry.owners, entry.obj, next, manager, sub);
    return this.#finish(type, namespace, name, entry, next);
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
    const rv = this.history.nextRv();
    entry.obj = { ...entry.obj, metadata: { ...metadataOf(entry.obj), resourceVersion: String(rv) } };
    let byName = this.#entries.get(typeKey(type));
    if (byName === undefined) {
      byName = new Map();
      this.#entries.set(typeKey(type), byName);
    }
    byName.set(`${namespace}/${name}`, entry);
    const object = this.#render(type, entry);
    this.history.record({
      rv,
      type: previous === undefined ? "ADDED" : "MODIFIED",
      resource: typeKey(type),
      object,
      ...(previous === undefined ? {} : { previous }),
    });
    return object;
  }

  #render(type: ResourceType, entry: Entry): JsonObject {
    const managedFields = renderManagedFields(type, entry.owners);
    return clone({ ...entry.obj, metadata: { ...metadataOf(entry.obj), managedFields } });
  }
}

/** The store's key of an object: `namespace/name`, the namespace empty for cluster-scoped ones. */
export function objectKey(obj: JsonObject): string {
  const metadata = metadataOf(obj);
  return `${typeof metadata.namespace === "string" ? metadata.namespace : ""}/${String(metadata.name ?? "")}`;
}
