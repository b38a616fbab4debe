/**
 * What a list reads, from its `resourceVersion`, `resourceVersionMatch` and `limit`, as
 * the API server decides it (API concepts, "Semantics for get and list"; the watch
 * cache's choice of what to hand to etcd):
 *
 * - no resourceVersion: Most Recent, a consistent read of etcd, paginated by `limit`;
 * - "0" (with no match or NotOlderThan): Any, served from the watch cache, which ignores
 *   `limit` and answers the whole collection in one response;
 * - a resourceVersion X with NotOlderThan, or with no match and no `limit`: Not older
 *   than X, from the watch cache (whole, current); with a `limit` and NotOlderThan it
 *   goes to etcd, latest, paginated;
 * - X with Exact, or with no match but a `limit` (the legacy rule): etcd at exactly X,
 *   paginated, 410 Expired once X is compacted.
 *
 * X newer than the server has seen answers 504 "Too large resource version" (a real
 * watch cache first waits up to 3 s for it). With the watch cache off
 * (`--watch-cache=false`) everything is read from etcd, and "0" pages like the rest.
 */
import { ApiError } from "./errors.ts";

export type ListRead =
  /** The watch cache: the latest state, whole, whatever the limit. */
  | { readonly from: "cache" }
  /** etcd, paginated by the limit: at `rv` when given, else the latest revision. */
  | { readonly from: "etcd"; readonly rv?: number };

const MATCHES = ["Exact", "NotOlderThan"];

function invalid(field: string, detail: string): ApiError {
  return new ApiError(422, "Invalid", `ListOptions.meta.k8s.io "" is invalid: ${field}: ${detail}`);
}

/** The API server's validation of resourceVersionMatch among a list's options (422 Invalid). */
export function validateResourceVersionMatch(query: URLSearchParams): void {
  const match = query.get("resourceVersionMatch") ?? "";
  const resourceVersion = query.get("resourceVersion") ?? "";
  const hasContinue = (query.get("continue") ?? "") !== "";
  if (match === "") return;
  if (resourceVersion === "")
    throw invalid(
      "resourceVersionMatch",
      "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
    );
  if (hasContinue)
    throw invalid(
      "resourceVersionMatch",
      "Forbidden: resourceVersionMatch is forbidden when continue is provided",
    );
  if (!MATCHES.includes(match))
    throw invalid(
      "resourceVersionMatch",
      `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan", ""`,
    );
  if (match === "Exact" && resourceVersion === "0")
    throw invalid(
      "resourceVersionMatch",
      'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
    );
}

function parseResourceVersion(value: string): number {
  const rv = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(rv))
    throw new ApiError(400, "BadRequest", `invalid resourceVersion ${JSON.stringify(value)}: not an integer`);
  return rv;
}

/** 504 as the watch cache answers a resourceVersion it has not reached. */
function tooLarge(rv: number, current: number): ApiError {
  return new ApiError(504, "Timeout", `Timeout: Too large resource version: ${rv}, current: ${current}`, 1, [
    { type: "ResourceVersionTooLarge", message: "Too large resource version" },
  ]);
}

/** The read a list without `continue` makes (a continued list reads its token's snapshot). */
export function listRead(
  query: URLSearchParams,
  limit: number,
  currentRv: number,
  watchCache: boolean,
): ListRead {
  const resourceVersion = query.get("resourceVersion") ?? "";
  const match = query.get("resourceVersionMatch") ?? "";
  if (resourceVersion === "") return { from: "etcd" };
  const rv = parseResourceVersion(resourceVersion);
  if (rv > currentRv) throw tooLarge(rv, currentRv);
  if (match === "Exact" || (match === "" && limit > 0 && rv !== 0)) return { from: "etcd", rv };
  if (!watchCache || (limit > 0 && rv !== 0)) return { from: "etcd" };
  return { from: "cache" };
}
