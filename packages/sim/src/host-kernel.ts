/**
 * A node's fake kernel starts as its `host/observed` facts describe the host: the
 * links named by its addresses and default routes, the addresses (the fake adds their
 * connected routes as Linux does) and the original default routes. The facts carry no
 * link-local address (the agent leaves them out); the fake gives each link, up with
 * carrier, its own with its fe80::/64 route as Linux does, so a Route via fe80::1 finds
 * the same on-link devices as on the node.
 *
 * The fake promotes a removed primary's IPv4 secondary (HostDescription.promoteSecondaries,
 * left at its default): the facts do not say how the node is set, and a log from a node
 * that removes the secondaries instead lists each removal before the primary's, so it
 * replays alike. The facts list addresses sorted, not in the kernel's order: of two in
 * one subnet, the lower is taken for the primary, whichever came first on the node.
 */
import { defaultPrefix, defaultRouteFamily, type EventOf, familyOf, type KernelRoute } from "@kroute/core";
import type { HostDescription } from "@kroute/driver-fake";

/** rtm_protocol of the original default routes: `proto dhcp`, as a cloud VM has them. */
export const RTPROT_DHCP = 16;

export function hostDescription(event: EventOf<"host/observed">): HostDescription {
  const devs = new Set<string>();
  for (const address of event.addresses) devs.add(address.dev);
  for (const gateway of event.defaultGateways) devs.add(gateway.dev);
  devs.delete("lo");
  const routes: KernelRoute[] = event.defaultGateways.map((gateway) => {
    const family = defaultRouteFamily(gateway);
    return {
      family,
      table: 254,
      dst: defaultPrefix(family),
      metric: gateway.metric ?? 0,
      protocol: RTPROT_DHCP,
      scope: 0,
      target: { kind: "gateways", nexthops: [{ gateway: gateway.via, dev: gateway.dev, weight: 1 }] },
    };
  });
  return {
    links: [...devs].sort().map((name) => ({ name })),
    addresses: event.addresses.map((address) => ({
      dev: address.dev,
      ip: address.ip,
      prefixLength: address.prefixLength ?? (familyOf(address.ip) === 4 ? 24 : 64),
    })),
    routes,
    // The agent sets layer-4 multipath hashing by default (SPEC §3.4); the fake starts as the agent leaves it.
    multipathHashPolicy: { 4: 1, 6: 1 },
  };
}
