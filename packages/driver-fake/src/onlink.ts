/**
 * Linux accepts a gateway only when it is reachable straight out of the named
 * device: a route in the route's table or main (where connected routes live) sends
 * the gateway's address out of that device without a gateway of its own (which
 * route counts differs by family: onlink-route.ts). The refusal differs by family
 * too: IPv4 says ENETUNREACH with an extack, IPv6 EHOSTUNREACH without one (checked
 * with `ip` on 6.18). A link that is administratively down has lost its connected
 * routes, so a route through it fails that same check; a nexthop object checks the
 * device first, carrier included, while it parses the request (so a carrierless
 * device hides an off-link gateway).
 *
 * IPv6 first refuses a gateway that is one of the node's own addresses, then takes a
 * link-local one (fe80::/10) out of any device that is up with no route at all: such
 * an address means "on this link" by definition (ip6_validate_gw). IPv4 has neither
 * rule: its own address passes through the local route of the device holding it (the
 * nexthop then has scope host).
 */
import { type Family, familyOf, type IpAddr, type Prefix, prefixContains } from "@kroute/core";
import { type KernelError, kernelError } from "./errno.ts";
import { onlinkThrough } from "./onlink-route.ts";
import { type KernelState, linkIsUp } from "./state.ts";

export type DeviceCheck = "route" | "nexthop";

/**
 * The device must exist and, for a nexthop object or a device route, be
 * administratively up. A nexthop object also needs carrier, unlike a route. Only an
 * IPv4 route words a down device its own way (fib_check_nh_nongw).
 */
export function checkDevice(
  state: KernelState,
  dev: string,
  check: DeviceCheck,
  family: Family,
): KernelError | undefined {
  if (dev === "")
    return kernelError("EINVAL", "Device attribute required for non-blackhole and non-fdb nexthops");
  const link = state.links.get(dev);
  if (link === undefined) return kernelError("ENODEV");
  if (!linkIsUp(state, dev)) {
    return kernelError(
      "ENETDOWN",
      check === "route" && family === 4 ? "Device for nexthop is not up" : "Nexthop device is not up",
    );
  }
  if (check === "nexthop" && !link.carrier)
    return kernelError("ENETDOWN", "Carrier for nexthop device is down");
  return undefined;
}

export function checkGateway(
  state: KernelState,
  table: number,
  gateway: IpAddr,
  dev: string,
  check: DeviceCheck,
): KernelError | undefined {
  const verdicts = state.onlinkVerdicts[familyOf(gateway)];
  const key = `${check}|${table}|${gateway}|${dev}`;
  if (verdicts.has(key)) return verdicts.get(key);
  const verdict = judgeGateway(state, table, gateway, dev, check);
  verdicts.set(key, verdict);
  return verdict;
}

function judgeGateway(
  state: KernelState,
  table: number,
  gateway: IpAddr,
  dev: string,
  check: DeviceCheck,
): KernelError | undefined {
  if (check === "nexthop") {
    const deviceError = checkDevice(state, dev, check, familyOf(gateway));
    if (deviceError !== undefined) return deviceError;
  } else if (!state.links.has(dev)) {
    return kernelError("ENODEV");
  }
  if (familyOf(gateway) === 6) {
    if (isOwnAddress(state, gateway, dev)) return kernelError("EINVAL", "Gateway can not be a local address");
    if (isLinkLocal(gateway)) return checkDevice(state, dev, "route", 6);
  }
  if (onlinkThrough(state, table, gateway, dev)) return undefined;
  return familyOf(gateway) === 4
    ? kernelError("ENETUNREACH", "Nexthop has invalid gateway")
    : kernelError("EHOSTUNREACH");
}

const IPV6_LINK_LOCAL = "fe80::/10" as Prefix;

/**
 * Whether an IPv6 gateway is one of the node's addresses: on any device, but a
 * link-local one only on the route's own device (fe80::1 on another link is another
 * host).
 */
function isOwnAddress(state: KernelState, gateway: IpAddr, dev: string): boolean {
  const linkLocal = isLinkLocal(gateway);
  return state.addresses.some((address) => address.ip === gateway && (!linkLocal || address.dev === dev));
}

function isLinkLocal(gateway: IpAddr): boolean {
  return prefixContains(IPV6_LINK_LOCAL, gateway);
}
