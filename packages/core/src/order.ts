/**
 * Deterministic order of kernel objects as sort keys: strings computed once per object
 * that sort like (family, table, destination, metric) for routes, (priority, source)
 * for rules and id for nexthops. Comparing parsed addresses in every comparison made
 * sorting the largest cost of a plan.
 */
import { addressBits, type Prefix, prefixAddress, prefixLength } from "./ip.ts";
import { type KernelNexthop, type KernelRoute, type KernelRule, ruleKey } from "./kernel.ts";

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}

/** Family, then address bits, then length. */
export function prefixSortKey(prefix: Prefix): string {
  const address = addressBits(prefixAddress(prefix));
  if (address === undefined) return `9|${prefix}`;
  const hex = address.bits.toString(16).padStart(address.family === 4 ? 8 : 32, "0");
  return `${address.family}|${hex}|${pad(prefixLength(prefix), 3)}`;
}

const routeSortKeys = new WeakMap<KernelRoute, string>();

/**
 * Built once per route object (objects are never changed). Desired route objects are
 * shared by every node that wants them and come back as the kernel slice's objects, so
 * the same object is sorted again and again: every plan of a label move sorts some
 * 2,000 route ops, and parsing their prefixes each time was most of the sort.
 */
export function routeSortKey(route: KernelRoute): string {
  let key = routeSortKeys.get(route);
  if (key === undefined) {
    key = `${route.family}|${pad(route.table, 10)}|${prefixSortKey(route.dst)}|${pad(route.metric, 10)}`;
    routeSortKeys.set(route, key);
  }
  return key;
}

/** Rules by priority (the order the kernel consults them), or the reverse with "last first". */
export function ruleSortKey(rule: KernelRule, order: "first first" | "last first" = "first first"): string {
  const src = rule.src === undefined ? "" : prefixSortKey(rule.src);
  const priority = order === "first first" ? rule.priority : 0xffffffff - rule.priority;
  return `${pad(priority, 10)}|${src}|${ruleKey(rule)}`;
}

export function nexthopSortKey(nexthop: KernelNexthop): string {
  return pad(nexthop.id, 10);
}

/** Sorts by a key computed once per item. */
export function sortByKey<T>(items: readonly T[], key: (item: T) => string): T[] {
  return items
    .map((item) => [key(item), item] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, item]) => item);
}
