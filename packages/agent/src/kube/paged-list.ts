/**
 * A whole collection read in pages (`limit` and `continue`), as client-go's reflector
 * reads it: one list of 10,000 Routes is one response the API server builds in memory
 * at once, and thousands of agents relisting together after an API server restart ask
 * for it thousands of times. Every page comes from the first page's snapshot, so the
 * pages make one consistent list at one resourceVersion.
 *
 * A continue token can expire (410) when the snapshot is compacted before the last page
 * is read; the pages read so far are then dropped and the collection read again in one
 * unpaginated list, as client-go's pager falls back to: a consistent list at once, where
 * paging again from the start could expire again on a busy cluster.
 */
import { KubeApiError, type KubeClient, type Query } from "./rest.ts";

/** client-go's page size. */
export const DEFAULT_LIST_PAGE_SIZE = 500;

export async function listInPages<T>(
  client: KubeClient,
  path: string,
  query: Query,
  pageSize: number,
): Promise<{ readonly items: readonly T[]; readonly resourceVersion: string }> {
  const items: T[] = [];
  let page = await client.list<T>(path, { ...query, limit: pageSize });
  items.push(...page.items);
  while (page.continue !== undefined) {
    try {
      page = await client.list<T>(path, { ...query, limit: pageSize, continue: page.continue });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.code === 410)) throw err;
      return client.list<T>(path, query);
    }
    items.push(...page.items);
  }
  return { items, resourceVersion: page.resourceVersion };
}
