/**
 * kube-controller-manager's garbage collector, as far as it deletes dependents: an
 * object whose every ownerReference names an owner that does not exist (no object of
 * that apiVersion, kind and name with that uid: an owner deleted, or deleted and
 * created again under the same name) is deleted, and then its own dependents. Like
 * the real collector it works in the background, after the change that left the
 * object ownerless (the owner's delete, or a write naming owners that are gone), so
 * the owner's delete answers before its dependents go.
 *
 * A reference the collector cannot resolve keeps its object, as the real one never
 * deletes on one: a kind the double does not serve, or a namespaced owner named by a
 * cluster-scoped object. A namespaced owner is looked for in its dependent's namespace
 * (cross-namespace references count as absent).
 */
import type { Change } from "./change-history.ts";
import { deepEqual, isObject, type Json, type JsonObject } from "./json.ts";
import { metadataOf } from "./object-metadata.ts";
import { apiVersionOf, type ResourceType } from "./resources.ts";
import type { ObjectStore } from "./store.ts";

export class GarbageCollector {
  readonly #store: ObjectStore;
  readonly #types: readonly ResourceType[];
  readonly #unsubscribe: () => void;
  #pass: NodeJS.Immediate | undefined;

  constructor(store: ObjectStore, types: readonly ResourceType[]) {
    this.#store = store;
    this.#types = types;
    this.#unsubscribe = store.history.subscribe((change) => this.#observe(change));
  }

  close(): void {
    this.#unsubscribe();
    if (this.#pass !== undefined) clearImmediate(this.#pass);
    this.#pass = undefined;
  }

  /** Only a delete or a change of some object's owners can leave an object ownerless. */
  #observe(change: Change): void {
    const owners = ownerReferencesOf(change.object);
    const ownersChanged =
      owners.length > 0 &&
      (change.previous === undefined || !deepEqual(owners, ownerReferencesOf(change.previous)));
    if (change.type !== "DELETED" && !ownersChanged) return;
    this.#pass ??= setImmediate(() => {
      this.#pass = undefined;
      this.#collect();
    });
  }

  /** Deletes every ownerless object; each delete is a change, so their dependents go in the next pass. */
  #collect(): void {
    for (const type of this.#types) {
      const ownerless = [...this.#store.dependents(type)].filter((metadata) =>
        this.#ownerless(type, metadata),
      );
      for (const metadata of ownerless) {
        const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "";
        this.#store.delete(type, namespace, String(metadata.name));
      }
    }
  }

  #ownerless(dependentType: ResourceType, metadata: JsonObject): boolean {
    const namespace = typeof metadata.namespace === "string" ? metadata.namespace : "";
    return ownerReferencesOf({ metadata }).every((reference) => {
      const ownerType = this.#types.find(
        (t) => t.kind === reference.kind && apiVersionOf(t) === reference.apiVersion,
      );
      // Unresolvable: the real collector reports it and leaves the object alone.
      if (ownerType === undefined || (ownerType.namespaced && !dependentType.namespaced)) return false;
      const ownerNamespace = ownerType.namespaced ? namespace : "";
      return this.#store.uidOf(ownerType, ownerNamespace, String(reference.name)) !== reference.uid;
    });
  }
}

function ownerReferencesOf(obj: JsonObject): JsonObject[] {
  const references: Json | undefined = metadataOf(obj).ownerReferences;
  return Array.isArray(references) ? references.filter(isObject) : [];
}
