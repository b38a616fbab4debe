/**
 * Route data computed once and shared by reference by every node state that holds it.
 *
 * Why: Routes are cluster-wide. A simulator replaying 1,000 nodes hands the same Route
 * object (and the same `route/resynced` array) to 1,000 reducers; validating it and
 * indexing it per node kept 1,000 identical copies (8 MiB per node at 5,000 Routes,
 * measured with scripts/bench/sim-scale.ts). Validation and the by-name index are
 * pure functions of immutable inputs, so remembering them by object identity changes
 * no result, only how often they are computed. WeakMaps forget an entry as soon as
 * nothing else holds its key, so nothing here outlives the events that made it.
 *
 * The same holds for the by-name index after a Route event: every node applies the
 * same event to the same index, so the first computes the next version and the others
 * share it (1,000 path copies of a 5,000-entry map per event otherwise, most of the
 * simulator's garbage).
 */
import { emptyHashMap, type HashMap, hmDelete, hmSet } from "./hashmap.ts";
import type { RouteObject, RouteValidation } from "./route.ts";
import { regroup } from "./selector-groups.ts";
import { validateRoute } from "./validate.ts";

const validations = new WeakMap<object, RouteValidation>();
const snapshots = new WeakMap<object, HashMap<RouteValidation>>();

/** The last version made from an index, and how: one entry each, since nodes apply events in one order. */
interface NextVersion {
  readonly name: string;
  /** The validation set, or undefined for a deletion. */
  readonly validation: RouteValidation | undefined;
  /**
   * Held weakly: an index someone keeps (a snapshot's, say) would otherwise keep every
   * version after it alive, one per Route event for as long as an agent runs.
   */
  readonly next: WeakRef<HashMap<RouteValidation>>;
}
const nextVersions = new WeakMap<HashMap<RouteValidation>, NextVersion>();

export function validationName(validation: RouteValidation): string {
  return validation.ok ? validation.route.name : validation.name;
}

/** validateRoute, once per Route object (anything that is not an object is validated each time). */
export function validatedRoute(obj: RouteObject): RouteValidation {
  if (typeof obj !== "object" || obj === null) return validateRoute(obj);
  let validation = validations.get(obj);
  if (validation === undefined) {
    validation = validateRoute(obj);
    validations.set(obj, validation);
  }
  return validation;
}

/** Every Route of a `route/resynced` snapshot by name (the last one wins a name), once per snapshot array. */
export function validatedSnapshot(routes: readonly RouteObject[]): HashMap<RouteValidation> {
  let byName = snapshots.get(routes);
  if (byName === undefined) {
    byName = emptyHashMap<RouteValidation>();
    for (const route of routes) {
      const validation = validatedRoute(route);
      byName = hmSet(byName, validationName(validation), validation);
    }
    snapshots.set(routes, byName);
  }
  return byName;
}

/** hmSet(byName, name, validation), or hmDelete when validation is undefined, shared by every caller with the same index. */
export function withRoute(
  byName: HashMap<RouteValidation>,
  name: string,
  validation: RouteValidation | undefined,
): HashMap<RouteValidation> {
  const last = nextVersions.get(byName);
  const shared = last?.name === name && last.validation === validation ? last.next.deref() : undefined;
  if (shared !== undefined) return shared;
  const next = validation === undefined ? hmDelete(byName, name) : hmSet(byName, name, validation);
  regroup(byName, next, name, validation);
  nextVersions.set(byName, { name, validation, next: new WeakRef(next) });
  return next;
}
