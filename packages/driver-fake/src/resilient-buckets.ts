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

/**
 * Buckets as two parallel arrays rather than an object each: a simulated node holds
 * a few dozen groups of 128 buckets, and bucket objects were a quarter of a fake
 * kernel's memory in a 1,000-node replay (scripts/bench/sim-scale.ts).
 */
export interface BucketTable {
  /** The member nexthop id owning each bucket; 0 (no nexthop has id 0) before the first assignment. */
  readonly owners: Uint32Array;
  /** Clock reading (seconds) of each bucket's last assignment or use. */
  readonly lastUsed: Float64Array;
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
    owners: new Uint32Array(params.buckets),
    lastUsed: new Float64Array(params.buckets).fill(now),
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
  const { owners, lastUsed } = table;
  const wants = wantedBuckets(members, owners.length);
  const counts = new Map<number, number>(members.map((member) => [member.id, 0]));
  for (const owner of owners) {
    const count = counts.get(owner);
    if (count !== undefined) counts.set(owner, count + 1);
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
  const assign = (bucket: number, to: number): void => {
    const from = counts.get(owners[bucket] as number);
    if (from !== undefined) counts.set(owners[bucket] as number, from - 1);
    counts.set(to, (counts.get(to) ?? 0) + 1);
    owners[bucket] = to;
    lastUsed[bucket] = now;
  };

  // Orphaned buckets (member gone, or a fresh table) move unconditionally.
  for (let bucket = 0; bucket < owners.length; bucket++) {
    if (counts.has(owners[bucket] as number)) continue;
    const to = mostUnderserved();
    if (to !== undefined) assign(bucket, to);
  }
  const forced =
    params.unbalancedTimer > 0 &&
    table.unbalancedSince !== undefined &&
    now - table.unbalancedSince >= params.unbalancedTimer;
  for (let bucket = 0; bucket < owners.length; bucket++) {
    if (deficit(owners[bucket] as number) >= 0) continue;
    if (!forced && now - (lastUsed[bucket] as number) < params.idleTimer) continue;
    const to = mostUnderserved();
    if (to !== undefined) assign(bucket, to);
  }
  const unbalanced = members.some((member) => deficit(member.id) < 0);
  if (!unbalanced) delete table.unbalancedSince;
  else table.unbalancedSince ??= now;
}

/** The member serving a flow hash; marks the bucket used, as traffic does. */
export function selectBucket(table: BucketTable, hash: number, now: number): number | undefined {
  if (table.owners.length === 0) return undefined;
  const bucket = hash % table.owners.length;
  table.lastUsed[bucket] = now;
  return table.owners[bucket];
}
