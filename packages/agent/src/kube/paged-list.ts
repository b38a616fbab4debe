/**
 * A whole collection read as client-go's reflector reads it, at the resourceVersion
 * `listResourceVersion` chooses:
 *
 * - "0" (the first list): any state the API server has, served from its watch cache;
 *   the cache ignores `limit` and answers in one response, and a server without one
 *   pages it from etcd. The state may be older than one seen before (an HA API server
 *   lagging behind), which the watch from it then brings up to date;
 * - the last resourceVersion seen (a relist after a watch expired): not older than it,
 *   from the watch cache too. No `limit` here: with one, the API server would read
 *   exactly that resourceVersion from etcd, and answer 410 once it is compacted;
 * - "" (only after the above answered 410 or "too large resource version"): the latest
 *   state, a consistent read from etcd, in pages of `limit`.
 *
 * Why it matters: an API server restarted expires every agent's watch at once, and
 * thousands of agents each reading the whole collection from etcd, in pages, is the
 * load that restart then has to carry; from the watch cache each list is a copy in
 * memory.
 *
 * The pages of a paginated list all come from its first page's snapshot, so they make
 * one consistent list at one resourceVersion; later pages carry only the continue token
 * (the API server refuses a resourceVersion beside one). A continue token can expire
 * (410) when the snapshot is compacted before the last page is read; the pages read so
 * far are then dropped and the collection read again in one unpaginated list at the
 * resourceVersion first asked for, as client-go's pager falls back to: a consistent
 * list at once, where paging again from the start could expire again on a busy cluster.
 */
import { KubeApiError, type KubeClient, type Query } from "./rest.ts";

/** client-go's page size. */
export const DEFAULT_LIST_PAGE_SIZE = 500;

/** client-go's relistResourceVersion: see the module comment. */
export function listResourceVersion(lastSeen: string | undefined, lastSeenUnavailable: boolean): string {
  if (lastSeenUnavailable) return "";
  return lastSeen ?? "0";
}

/**
 * The API server cannot serve a list at the resourceVersion asked for: compacted away
 * (410), or newer than this API server has seen (504 with the ResourceVersionTooLarge
 * cause, or only its message from older servers). The list is then made at "".
 */
export function isResourceVersionUnavailable(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  return err.code === 410 || (err.code === 504 && err.message.includes("Too large resource version"));
}

export async function listInPages<T>(
  client: KubeClient,
  path: string,
  query: Query,
  pageSize: number,
  resourceVersion: string,
): Promise<{ readonly items: readonly T[]; readonly resourceVersion: string }> {
  const atVersion: Query = resourceVersion === "" ? query : { ...query, resourceVersion };
  const paged = resourceVersion === "" || resourceVersion === "0";
  const items: T[] = [];
  let page = await client.list<T>(path, paged ? { ...atVersion, limit: pageSize } : atVersion);
  items.push(...page.items);
  while (page.continue !== undefined) {
    try {
      page = await client.list<T>(path, { ...query, limit: pageSize, continue: page.continue });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 410)) throw err;
      return client.list<T>(path, atVersion);
    }
    items.push(...page.items);
  }
  return { items, resourceVersion: page.resourceVersion };
}
