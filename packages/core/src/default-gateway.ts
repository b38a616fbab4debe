/**
 * The family an original default gateway routes for. An IPv4 default route may go via
 * an IPv6 next hop (RFC 5549): its gateway is IPv6, but it is the node's IPv4 way out,
 * and the IPv4 override must keep the API server, resolvers and replies on it.
 */
import type { DefaultGateway } from "./events.ts";
import { type Family, familyOf } from "./ip.ts";

export function defaultRouteFamily(gateway: DefaultGateway): Family {
  return gateway.family ?? familyOf(gateway.via);
}
