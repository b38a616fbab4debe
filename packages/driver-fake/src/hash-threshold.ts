/**
 * Hash-threshold selection (RFC 2992), as Linux's fib_select_multipath: each
 * nexthop owns a contiguous range of the 31-bit hash space sized by its weight, so
 * removing one shifts the boundaries of the others and moves some of their flows too.
 */

/** Index of the chosen entry, or undefined when there are none. */
export function selectHashThreshold(weights: readonly number[], hash: number): number | undefined {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  if (total === 0) return undefined;
  let cumulative = 0;
  for (let i = 0; i < weights.length; i++) {
    cumulative += weights[i] ?? 0;
    // Linux: upper_bound = DIV_ROUND_CLOSEST(cumulative << 31, total) - 1
    const upperBound = Math.round((cumulative * 2 ** 31) / total) - 1;
    if (hash <= upperBound) return i;
  }
  return weights.length - 1;
}
