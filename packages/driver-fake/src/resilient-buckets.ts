/**
 * The bucket table of a resilient nexthop group, after Linux's nexthop.c: a fixed
 * number of buckets, each owned by one member. A flow picks bucket `hash % size`.
 * Each member wants a share of buckets in proportion to its weight; buckets of a
 * departed member are reassigned at once, while a bucket of an over-served member
 * moves only once it has been idle for the idle timer (or the group has been
 * unbalanced for longer than the unbalanced timer, when that is non-zero). So a
 * departure moves only the departed member's flows, and a member coming back under
 * a long idle timer takes over nothing until traffic on the others goes quiet.
 */
import type { NexthopGroupMember, ResilientParams } from "@kroute/core";

export interface Bucket {
  nexthop: number;
  /** Clock reading (seconds) of the last assignment or use. */
  lastUsed: number;
}

export interface BucketTable {
  readonly buckets: Bucket[];
  /** Since when some member holds more buckets than it wants. */
  unbalancedSince?: number;
}

/** Buckets each member wants, by cumulative rounding as Linux (sums to `size` exactly). */
function wantedBuckets(members: readonly NexthopGroupMember[], size: number): Map<number, number> {
  const total = members.reduce((sum, member) => sum + member.weight, 0);
  const wants = new Map<number, number>();
  let cumulative = 0;
  let previousBound = 0;
  for (const member of members) {
    cumulative += member.weight;
    const bound = Math.round((size * cumulative) / total);
    wants.set(member.id, bound - previousBound);
    previousBound = bound;
  }
  return wants;
}

export function createBucketTable(
  members: readonly NexthopGroupMember[],
  params: ResilientParams,
  now: number,
): BucketTable {
  const table: BucketTable = {
    buckets: Array.from({ length: params.buckets }, () => ({ nexthop: 0, lastUsed: now })),
  };
  rebalance(table, members, params, now);
  return table;
}

/** Reassigns buckets towards the members' wanted shares, as far as the timers allow. */
export function rebalance(
  table: BucketTable,
  members: readonly NexthopGroupMember[],
  params: ResilientParams,
  now: number,
): void {
  const wants = wantedBuckets(members, table.buckets.length);
  const counts = new Map<number, number>(members.map((member) => [member.id, 0]));
  for (const bucket of table.buckets) {
    const count = counts.get(bucket.nexthop);
    if (count !== undefined) counts.set(bucket.nexthop, count + 1);
  }
  const deficit = (id: number): number => (wants.get(id) ?? 0) - (counts.get(id) ?? 0);
  const mostUnderserved = (): number | undefined => {
    let best: number | undefined;
    for (const member of members) {
      if (deficit(member.id) > 0 && (best === undefined || deficit(member.id) > deficit(best)))
        best = member.id;
    }
    return best;
  };
  const assign = (bucket: Bucket, to: number): void => {
    const from = counts.get(bucket.nexthop);
    if (from !== undefined) counts.set(bucket.nexthop, from - 1);
    counts.set(to, (counts.get(to) ?? 0) + 1);
    bucket.nexthop = to;
    bucket.lastUsed = now;
  };

  // Orphaned buckets (member gone, or a fresh table) move unconditionally.
  for (const bucket of table.buckets) {
    if (counts.has(bucket.nexthop)) continue;
    const to = mostUnderserved();
    if (to !== undefined) assign(bucket, to);
  }
  const forced =
    params.unbalancedTimer > 0 &&
    table.unbalancedSince !== undefined &&
    now - table.unbalancedSince >= params.unbalancedTimer;
  for (const bucket of table.buckets) {
    if (deficit(bucket.nexthop) >= 0) continue;
    if (!forced && now - bucket.lastUsed < params.idleTimer) continue;
    const to = mostUnderserved();
    if (to !== undefined) assign(bucket, to);
  }
  const unbalanced = members.some((member) => deficit(member.id) < 0);
  if (!unbalanced) delete table.unbalancedSince;
  else table.unbalancedSince ??= now;
}

/** The member serving a flow hash; marks the bucket used, as traffic does. */
export function selectBucket(table: BucketTable, hash: number, now: number): number | undefined {
  const bucket = table.buckets[hash % table.buckets.length];
  if (bucket === undefined) return undefined;
  bucket.lastUsed = now;
  return bucket.nexthop;
}
