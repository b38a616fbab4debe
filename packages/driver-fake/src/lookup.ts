/**
 * `ip route get`: the policy rules in priority order choose tables; in a table the
 * longest matching prefix wins, then the first route serving the flow's TOS (the
 * highest TOS, then the lowest metric); a multipath route or group
 * then picks one nexthop by the flow's hash. Special routes answer with Linux's
 * errnos (blackhole EINVAL, unreachable EHOSTUNREACH, prohibit EACCES; throw moves on
 * to the next rule, as does an answer a rule's suppress_prefixlength passes over).
 */
import {
  type AddressBits,
  addressBits,
  type FlowQuery,
  type IpAddr,
  type KernelRoute,
  type LookupResult,
  parseIp,
  prefixContains,
  prefixLength,
  tosOutOfRange,
} from "@kroute/core";
import { kernelError } from "./errno.ts";
import { flowHash } from "./flow-hash.ts";
import { selectHashThreshold } from "./hash-threshold.ts";
import { matchingRoutes } from "./longest-match.ts";
import { selectBucket } from "./resilient-buckets.ts";
import { hopIsDead, type KernelState } from "./state.ts";

type Hop = { readonly gateway?: IpAddr; readonly dev: string };

/**
 * The first route of the longest prefix that serves the flow's TOS; a prefix with none
 * for it (only routes of other TOS) is passed over for a shorter one.
 */
function bestRoute(
  state: KernelState,
  table: number,
  address: AddressBits,
  flowTos: number,
): KernelRoute | undefined {
  for (const routes of matchingRoutes(state, table, address)) {
    const route = routes.find((candidate) => servesTos(candidate, flowTos));
    if (route !== undefined) return route;
  }
  return undefined;
}

/**
 * Linux (fib_dscp_masked_match) compares a route's TOS with the flow's RFC 1349 TOS
 * bits alone (0x1c): a flow of TOS 0xf0 takes a route of TOS 0x10, and a route of TOS
 * 0xe0 serves no flow at all. A route without one serves every flow.
 */
function servesTos(route: KernelRoute, flowTos: number): boolean {
  const tos = route.tos ?? 0;
  return tos === 0 || tos === (flowTos & LEGACY_TOS_BITS);
}

const LEGACY_TOS_BITS = 0x1c;

function chooseHop(state: KernelState, route: KernelRoute, query: FlowQuery): Hop | "throw" | LookupResult {
  const hash = (): number => flowHash(query, state.hashPolicy[route.family]);
  const target = route.target;
  switch (target.kind) {
    case "device":
      return { dev: target.dev };
    case "special":
      switch (target.type) {
        case "blackhole":
          return kernelError("EINVAL");
        case "unreachable":
          return kernelError("EHOSTUNREACH");
        case "prohibit":
          return kernelError("EACCES");
        case "throw":
          return "throw";
        default:
          return { dev: "lo" };
      }
    case "gateways": {
      // Dead nexthops (link administratively down, or its last IPv4 address gone) are
      // skipped; linkdown ones still count.
      const live = target.nexthops.filter((nexthop) => !hopIsDead(state, route, nexthop.dev));
      const index = selectHashThreshold(
        live.map((nexthop) => nexthop.weight),
        hash(),
      );
      const chosen = index === undefined ? undefined : live[index];
      return chosen === undefined ? kernelError("ENETUNREACH") : { gateway: chosen.gateway, dev: chosen.dev };
    }
    case "nexthop-object": {
      const nexthop = state.nexthops.get(target.id);
      if (nexthop === undefined) return kernelError("ENETUNREACH");
      if (nexthop.kind === "gateway") return { gateway: nexthop.gateway, dev: nexthop.dev };
      // Linux: `ip route get` through a blackhole nexthop is refused (Invalid argument).
      if (nexthop.kind === "opaque") return kernelError("EINVAL");
      let memberId: number | undefined;
      const buckets = state.buckets.get(nexthop.id);
      if (nexthop.groupType === "resilient" && buckets !== undefined) {
        memberId = selectBucket(buckets, hash(), state.now);
      } else {
        const index = selectHashThreshold(
          nexthop.members.map((member) => member.weight),
          hash(),
        );
        memberId = index === undefined ? undefined : nexthop.members[index]?.id;
      }
      const member = memberId === undefined ? undefined : state.nexthops.get(memberId);
      if (member?.kind !== "gateway") return kernelError("ENETUNREACH");
      return { gateway: member.gateway, dev: member.dev };
    }
  }
}

function ruleMatches(prefix: string | undefined, address: IpAddr | undefined): boolean {
  if (prefix === undefined) return true;
  if (address === undefined) return prefix.endsWith("/0");
  return prefixContains(prefix as Parameters<typeof prefixContains>[0], address);
}

export function lookupFlow(state: KernelState, query: FlowQuery): LookupResult {
  const parsed = parseIp(query.dst);
  const address = parsed.ok ? addressBits(parsed.value) : undefined;
  if (address === undefined) return kernelError("EINVAL");
  const flowTos = query.tos ?? 0;
  const outOfRange = tosOutOfRange(flowTos);
  if (outOfRange !== undefined) return kernelError("EINVAL", outOfRange);
  const lookups: readonly { readonly table: number; readonly suppressPrefixLength?: number }[] =
    query.table !== undefined
      ? [{ table: query.table }]
      : state.rules
          .filter((rule) => rule.family === address.family)
          .filter((rule) => ruleMatches(rule.src, query.src) && ruleMatches(rule.dst, query.dst));
  for (const { table, suppressPrefixLength } of lookups) {
    const route = bestRoute(state, table, address, flowTos);
    if (route === undefined) continue;
    // suppress_prefixlength N: the table's answer, when it is that short or shorter, is
    // passed over, and the next rule consulted.
    if (suppressPrefixLength !== undefined && prefixLength(route.dst) <= suppressPrefixLength) continue;
    const hop = chooseHop(state, route, query);
    if (hop === "throw") continue;
    if ("ok" in hop) return hop;
    return {
      ok: true,
      table,
      dst: route.dst,
      dev: hop.dev,
      ...(hop.gateway === undefined ? {} : { gateway: hop.gateway }),
    };
  }
  return kernelError("ENETUNREACH");
}
