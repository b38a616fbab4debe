/**
 * What the agent learns about its host for `host/observed`: the ORIGINAL default
 * gateway(s) (default routes not tagged with kroute's protocols: kroute's own override,
 * or the one it hands over from, must never be mistaken for the original), the node's addresses, its DNS resolvers,
 * the API servers' real endpoints, the metadata address and the configured protected
 * prefixes.
 */
import {
  compareAddresses,
  type Dataplane,
  type DefaultGateway,
  type EventOf,
  familyOf,
  type HostAddress,
  hostPrefix,
  type IpAddr,
  type KernelAddress,
  type KernelNexthop,
  type KernelRoute,
  type KernelSnapshot,
  type Prefix,
  prefixLength,
} from "@kroute/core";

export type HostObservedBody = Omit<EventOf<"host/observed">, "v" | "seq" | "at">;

const MAIN_TABLE = 254;

function gatewaysOfNexthop(
  nexthop: KernelNexthop | undefined,
  byId: Map<number, KernelNexthop>,
): DefaultGateway[] {
  if (nexthop === undefined) return [];
  if (nexthop.kind === "gateway") return [{ via: nexthop.gateway, dev: nexthop.dev }];
  if (nexthop.kind === "opaque") return [];
  return nexthop.members.flatMap((m) => gatewaysOfNexthop(byId.get(m.id), byId));
}

function gatewaysOfRoute(route: KernelRoute, byId: Map<number, KernelNexthop>): DefaultGateway[] {
  const target = route.target;
  switch (target.kind) {
    case "gateways":
      return target.nexthops.map((n) => ({ via: n.gateway, dev: n.dev }));
    case "nexthop-object":
      return gatewaysOfNexthop(byId.get(target.id), byId);
    case "device":
    case "special":
      return [];
  }
}

/**
 * A route past its expiry (an IPv6 default route whose router stopped advertising it):
 * Linux no longer routes through it, yet lists it until its garbage collector deletes
 * it, about 30 s later, and only then tells.
 */
function expired(route: KernelRoute): boolean {
  return route.expiresInMs !== undefined && route.expiresInMs <= 0;
}

/**
 * When a route read at `readAtMs` expires, rounded up to the second: a later read of the
 * same route gives the same time, so a re-read changes no fact, and the re-read due at
 * that time (host-source.ts) never comes before the kernel's expiry.
 */
function expiresAt(route: KernelRoute, readAtMs: number): { expiresAt?: string } {
  if (route.expiresInMs === undefined) return {};
  return { expiresAt: new Date(Math.ceil((readAtMs + route.expiresInMs) / 1000) * 1000).toISOString() };
}

/**
 * The original default gateways: per family, the foreign default route in the main
 * table with the lowest metric among those the kernel still uses (not expired) for
 * every flow (no TOS), each of its gateways, with the route's expiry when it has one.
 */
export function originalDefaultGateways(
  snapshot: KernelSnapshot,
  ownProtocols: readonly number[],
  readAtMs: number,
): DefaultGateway[] {
  const byId = new Map(snapshot.nexthops.map((n) => [n.id, n]));
  const result: DefaultGateway[] = [];
  for (const family of [4, 6] as const) {
    const candidates = snapshot.routes
      .filter(
        (r) =>
          r.family === family &&
          r.table === MAIN_TABLE &&
          prefixLength(r.dst) === 0 &&
          !ownProtocols.includes(r.protocol) &&
          // A default route with a TOS serves only flows of that TOS, not the node's own.
          r.tos === undefined &&
          !expired(r) &&
          gatewaysOfRoute(r, byId).length > 0,
      )
      .sort((a, b) => a.metric - b.metric);
    const best = candidates[0];
    if (best === undefined) continue;
    for (const gateway of gatewaysOfRoute(best, byId)) {
      const metric = best.metric === 0 ? {} : { metric: best.metric };
      // An IPv4 default route via an IPv6 next hop (RFC 5549) is the node's IPv4 way out:
      // say so, or the gateway would pass for the IPv6 original.
      const routeFamily = familyOf(gateway.via) === family ? {} : { family };
      result.push({ ...gateway, ...metric, ...routeFamily, ...expiresAt(best, readAtMs) });
    }
  }
  return result;
}

/** Loopback and IPv6 link-local: on the node itself or its link, never routed via a gateway. */
export function isHostLocal(ip: IpAddr): boolean {
  return familyOf(ip) === 4 ? ip.startsWith("127.") : ip === "::1" || /^fe[89ab][0-9a-f]:/.test(ip);
}

/** The node's own addresses, without loopback and IPv6 link-local ones. */
export function nodeAddresses(addresses: readonly KernelAddress[]): HostAddress[] {
  return addresses
    .filter((a) => a.dev !== "lo" && !isHostLocal(a.ip))
    .map((a) => ({ ip: a.ip, dev: a.dev, prefixLength: a.prefixLength }))
    .sort((a, b) => compareAddresses(a.ip, b.ip) || a.dev.localeCompare(b.dev));
}

export interface HostFactsOptions {
  readonly nodeName: string;
  readonly metadataAddress: IpAddr;
  /** Configured extras (--keep-original) that stay on the original gateway under an override. */
  readonly keepOriginal: readonly Prefix[];
}

/**
 * Reads the kernel's main table and addresses: the kernel part of the host facts. An
 * incomplete read (a dump the kernel interrupted or refused) is an error, never facts:
 * one missing its default route would read as "no original gateway".
 */
export async function kernelHostFacts(
  dataplane: Dataplane,
  ownProtocols: readonly number[],
  now: () => number = Date.now,
): Promise<{ defaultGateways: DefaultGateway[]; addresses: HostAddress[] }> {
  const snapshot = await dataplane.list({ tables: [MAIN_TABLE] });
  if (!snapshot.complete) throw new Error("the read of the main table and addresses was incomplete");
  return {
    // Read after the dump: the kernel counted the time left during it.
    defaultGateways: originalDefaultGateways(snapshot, ownProtocols, now()),
    addresses: nodeAddresses(snapshot.addresses),
  };
}

export function hostObserved(
  options: HostFactsOptions,
  kernel: { defaultGateways: readonly DefaultGateway[]; addresses: readonly HostAddress[] },
  dns: readonly IpAddr[],
  apiServers: readonly IpAddr[],
): HostObservedBody {
  return {
    type: "host/observed",
    node: options.nodeName,
    defaultGateways: kernel.defaultGateways,
    addresses: kernel.addresses,
    dns,
    apiServers: [...new Set(apiServers)].sort(compareAddresses),
    protect: [hostPrefix(options.metadataAddress), ...options.keepOriginal],
  };
}
