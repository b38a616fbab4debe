/**
 * Contributions shared by every node whose context gives the same one.
 *
 * Why: a contribution depends on the Route and on a few facts of the node (is the
 * Route selected, which device reaches each of its gateways, the settings, and for a
 * default-route override the host facts). Nodes of one pool agree on all of them, so a
 * simulator replaying 1,000 nodes computed, and kept, the same claims 100 times over
 * (most of a node's memory once validation was shared, scripts/bench/sim-scale.ts).
 * computeContribution is pure, so answering from the last result for an equal context
 * changes nothing but its cost. Entries are held by WeakMaps keyed by the Route's
 * validation (and host facts), so they go when the Route (or the facts) go.
 */
import {
  type ContributionContext,
  computeContribution,
  connectedNetworks,
  gatewayDevice,
  holdsProtection,
  isOwnGateway,
  isSelected,
  ownAddresses,
  protectionKey,
} from "./contribution.ts";
import type { IpAddr } from "./ip.ts";
import type { RouteValidation, ValidRoute } from "./route.ts";
import type { HostFacts } from "./state.ts";

interface Shared {
  readonly settings: ContributionContext["settings"];
  /** Everything else of the context the contribution was computed from (see contextKey). */
  readonly key: string;
  readonly contribution: ReturnType<typeof computeContribution>;
}

const unselected = new WeakMap<RouteValidation, ReturnType<typeof computeContribution>>();
const selected = new WeakMap<RouteValidation, Shared>();

/**
 * Where each gateway is, by host facts and kernel addresses (both replaced, never
 * changed, when they change): its device, OWN when it is one of the node's own
 * addresses, undefined when off-link.
 */
const devicesByFacts = new WeakMap<object, WeakMap<object, Map<IpAddr, string | undefined>>>();
const NO_FACTS = {};
/** Not a device name (those never hold a space): the gateway is the node itself. */
const OWN = "own address";

function devicesOf(ctx: ContributionContext): Map<IpAddr, string | undefined> {
  const facts: HostFacts | object = ctx.host.facts ?? NO_FACTS;
  let byAddresses = devicesByFacts.get(facts);
  if (byAddresses === undefined) {
    byAddresses = new WeakMap();
    devicesByFacts.set(facts, byAddresses);
  }
  let devices = byAddresses.get(ctx.kernel.addresses);
  if (devices === undefined) {
    devices = new Map();
    byAddresses.set(ctx.kernel.addresses, devices);
  }
  return devices;
}

function placeOf(gateway: IpAddr, ctx: ContributionContext, devices: Map<IpAddr, string | undefined>) {
  if (!devices.has(gateway)) {
    const networks = connectedNetworks(ctx);
    const own = isOwnGateway(gateway, ownAddresses(ctx), networks);
    devices.set(gateway, own ? OWN : gatewayDevice(gateway, networks));
  }
  return devices.get(gateway);
}

/**
 * What computeContribution reads of a node that selects the Route, besides the settings:
 * whether addresses and host facts are known, each gateway's device (or that it is the node's own), and (only for a default-route
 * override, which pins host routes and reply rules, or a destination holding a protected
 * address, which pins host routes) the host facts whole and which protected addresses
 * are reachable without a gateway.
 */
function contextKey(route: ValidRoute, ctx: ContributionContext): string {
  const devices = devicesOf(ctx);
  const known = ctx.host.observed || ctx.kernel.observed;
  // Without host facts every destination but a host route waits for them.
  let key = `${known ? "1" : "0"}${ctx.host.observed ? "1" : "0"}`;
  for (const gateway of route.gateways) key += `|${placeOf(gateway, ctx, devices) ?? ""}`;
  if (route.destinations.some((d) => d.prefix.endsWith("/0")) || holdsProtection(route, ctx.host.facts)) {
    // The networks the node is connected to decide which protected addresses need a pin.
    key += `#${ctx.host.observed ? JSON.stringify(ctx.host.facts) : ""}#${protectionKey(ctx)}`;
  }
  return key;
}

/** computeContribution(validation, ctx), shared with every node that gave an equal context last. */
export function sharedContribution(
  validation: RouteValidation,
  ctx: ContributionContext,
): ReturnType<typeof computeContribution> {
  if (!validation.ok || !isSelected(validation.route, ctx)) {
    let contribution = unselected.get(validation);
    if (contribution === undefined) {
      contribution = computeContribution(validation, ctx);
      unselected.set(validation, contribution);
    }
    return contribution;
  }
  const key = contextKey(validation.route, ctx);
  const last = selected.get(validation);
  if (last !== undefined && last.settings === ctx.settings && last.key === key) return last.contribution;
  const contribution = computeContribution(validation, ctx);
  selected.set(validation, { settings: ctx.settings, key, contribution });
  return contribution;
}
