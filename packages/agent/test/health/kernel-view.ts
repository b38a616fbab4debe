/**
 * What the kernel of a namespace says about a route, read with iproute2 (not with
 * kroute's own driver), for end-to-end assertions and benchmarks.
 */
import type { Netns } from "@kroute/lab";

interface IpRoute {
  readonly dst: string;
  readonly gateway?: string;
  readonly nhid?: number;
  readonly nexthops?: readonly { readonly gateway?: string }[];
}

/** The gateways a route to `prefix` currently goes through, sorted; [] when there is no such route. */
export async function routeGateways(ns: Netns, prefix: string): Promise<string[]> {
  const family = prefix.includes(":") ? "-6" : "-4";
  const routes = await ns.ipJson<IpRoute[]>(family, "route", "show", "exact", prefix);
  const route = routes[0];
  if (route === undefined) return [];
  const gateways = route.nexthops?.map((n) => n.gateway ?? "") ?? (route.gateway ? [route.gateway] : []);
  return gateways.sort();
}

/** Polls `check` every `everyMs` until it returns true; rejects naming `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 20,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
