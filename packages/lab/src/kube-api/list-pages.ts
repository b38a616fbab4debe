/**
 * Paginated lists (`limit` and `continue`), as the API server serves them from etcd: the
 * first page is read at the latest resourceVersion; its continue token carries that
 * resourceVersion and the key after the page's last object, so every later page comes
 * from the same snapshot. A token whose resourceVersion was compacted away answers
 * 410 Expired, and the client has to start its list again.
 */
import { ApiError } from "./errors.ts";
import type { JsonObject } from "./json.ts";
import { listRead, validateResourceVersionMatch } from "./list-reads.ts";
import type { ResourceType } from "./resources.ts";
import { type ObjectStore, objectKey } from "./store.ts";

export interface ListPage {
  readonly items: readonly JsonObject[];
  readonly resourceVersion: number;
  /** Absent on the last page. */
  readonly continue?: string;
  /** How many matching objects the later pages hold; only without selectors, as the API server. */
  readonly remainingItemCount?: number;
}

interface ContinueToken {
  readonly rv: number;
  /** The first key the next page may hold. */
  readonly start: string;
}

/** The API server's token format: base64 JSON of a version, the resourceVersion and the start key. */
function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: token.rv, start: token.start })).toString(
    "base64url",
  );
}

function decodeContinue(value: string): ContinueToken {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const token = parsed as { v?: unknown; rv?: unknown; start?: unknown } | undefined;
  if (
    token?.v !== "meta.k8s.io/v1" ||
    typeof token.rv !== "number" ||
    !Number.isSafeInteger(token.rv) ||
    token.rv <= 0 ||
    typeof token.start !== "string"
  ) {
    throw new ApiError(400, "BadRequest", `continue key is not valid: ${JSON.stringify(value)}`);
  }
  return { rv: token.rv, start: token.start };
}

function parseLimit(value: string | null): number {
  if (value === null || value === "") return 0;
  const limit = Number(value);
  if (!Number.isSafeInteger(limit)) {
    throw new ApiError(400, "BadRequest", `limit: invalid value ${JSON.stringify(value)}: not an integer`);
  }
  // The API server takes zero or a negative limit as no limit.
  return Math.max(0, limit);
}

const EXPIRED_LIST = "The resourceVersion for the provided list is too old.";

/**
 * One page of `type`'s objects that `matches` keeps, as `query` (resourceVersion,
 * resourceVersionMatch, limit, continue) asks: list-reads.ts says from where.
 */
export function listPage(
  store: ObjectStore,
  type: ResourceType,
  namespace: string | undefined,
  query: URLSearchParams,
  matches: (obj: JsonObject) => boolean,
  filtered: boolean,
  watchCache: boolean,
): ListPage {
  validateResourceVersionMatch(query);
  let limit = parseLimit(query.get("limit"));
  const continueParam = query.get("continue") ?? "";
  let rv = store.history.resourceVersion;
  let start = "";
  let all: JsonObject[];
  if (continueParam !== "") {
    const rvParam = query.get("resourceVersion") ?? "";
    if (rvParam !== "" && rvParam !== "0") {
      throw new ApiError(400, "BadRequest", "specifying resource version is not allowed when using continue");
    }
    ({ rv, start } = decodeContinue(continueParam));
    const snapshot = store.listAt(type, rv, namespace);
    if (snapshot === "expired") {
      throw new ApiError(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
      );
    }
    all = snapshot;
  } else {
    const read = listRead(query, limit, rv, watchCache);
    if (read.from === "cache") limit = 0;
    if (read.from === "etcd" && read.rv !== undefined) {
      rv = read.rv;
      const snapshot = store.listAt(type, rv, namespace);
      if (snapshot === "expired") throw new ApiError(410, "Expired", EXPIRED_LIST);
      all = snapshot;
    } else all = store.list(type, namespace);
  }
  const remaining = all.filter((obj) => objectKey(obj) >= start && matches(obj));
  if (limit === 0 || remaining.length <= limit) return { items: remaining, resourceVersion: rv };
  const items = remaining.slice(0, limit);
  const last = items[items.length - 1]!;
  return {
    items,
    resourceVersion: rv,
    continue: encodeContinue({ rv, start: `${objectKey(last)}\u0000` }),
    ...(filtered ? {} : { remainingItemCount: remaining.length - limit }),
  };
}
