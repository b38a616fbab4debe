/**
 * What one Route contributes to one node's table (SPEC §3 items 2, 5, 7, 13): its
 * claims on route keys, the gateway set of each, its policy rules, and a plan per
 * destination. It depends on the Route and the node's context only, never on other
 * Routes (conflicts are settled per key) nor on gateway health (settled per set),
 * so an update of one Route recomputes exactly one contribution.
 */
import { defaultRouteFamily } from "./default-gateway.ts";
import type { DefaultGateway } from "./events.ts";
import {
  compareAddresses,
  type Family,
  familyOf,
  hostPrefix,
  type IpAddr,
  maxPrefixLength,
  type Prefix,
  parsePrefix,
  prefixContains,
  prefixLength,
} from "./ip.ts";
import { show } from "./json-reader.ts";
import { type KernelRule, routeKey } from "./kernel.ts";
import { defaultHalves, isDefaultHalf, overrideNeedsSplit, SPLIT_HALF_RANK } from "./override.ts";
import type { RouteValidation, ValidRoute } from "./route.ts";
import { destinationRefusal, writtenDestinations } from "./route-verdict.ts";
import type { EngineSettings } from "./settings.ts";
import { selectedOn } from "./shared-selection.ts";
import type {
  Claim,
  Contribution,
  DestinationPlan,
  HostFacts,
  NodeState,
  RoutableEnd,
  SetMember,
} from "./state.ts";
import { MAIN_TABLE } from "./validate.ts";

/** The parts of the state a contribution depends on; a change that matters (see contextAffects) recomputes them all. */
export type ContributionContext = Pick<NodeState, "nodeName" | "node" | "host" | "settings"> & {
  readonly kernel: Pick<NodeState["kernel"], "addresses" | "observed">;
};

const DESTINATION_FIELD = /^spec\.destinations\[(\d+)\]$/;

/** Why a destination waits for the node's host facts (see computeContribution). */
const WAITING_TO_OVERRIDE = "waiting for the node's host facts before overriding its default route";
const WAITING_TO_JUDGE =
  "waiting for the node's host facts: until they name the protected addresses (API servers, resolvers, metadata, --keep-original), whether it holds one is not known";

export interface Network {
  readonly prefix: Prefix;
  readonly dev: string;
  /** The device carries one of the node's default routes of the network's family (see primaryDevices). */
  readonly primary: boolean;
}

export function connectedNetworks(ctx: ContributionContext): Network[] {
  const networks: Network[] = [];
  const primary = primaryDevices(ctx.host.facts?.defaultGateways ?? []);
  const add = (ip: IpAddr, length: number, dev: string) => {
    const masked = maskedPrefix(ip, length);
    if (masked !== undefined) networks.push({ prefix: masked, dev, primary: primary[familyOf(ip)].has(dev) });
  };
  for (const a of ctx.host.facts?.addresses ?? [])
    add(a.ip, a.prefixLength ?? (familyOf(a.ip) === 4 ? 24 : 64), a.dev);
  for (const a of ctx.kernel.addresses) add(a.ip, a.prefixLength, a.dev);
  return networks;
}

/**
 * The node's own addresses (host facts and kernel alike), with the devices holding each.
 * A node holding one of a destination's gateways is that destination's gateway (a NAT
 * or VPN gateway that is itself a node): it keeps its own way out (see computeContribution).
 */
export function ownAddresses(ctx: ContributionContext): Map<IpAddr, Set<string>> {
  const own = new Map<IpAddr, Set<string>>();
  const add = (ip: IpAddr, dev: string) => own.set(ip, (own.get(ip) ?? new Set()).add(dev));
  for (const a of ctx.host.facts?.addresses ?? []) add(a.ip, a.dev);
  for (const a of ctx.kernel.addresses) add(a.ip, a.dev);
  return own;
}

const LINK_LOCAL = "fe80::/10" as Prefix;

/**
 * Whether `gateway` is the node itself: one of its addresses, but a link-local one only
 * on the device the gateway goes out of. fe80::1 on a bridge (Docker's, say) is another
 * host than the router fe80::1 on the uplink, and Linux refuses only the former.
 */
export function isOwnGateway(
  gateway: IpAddr,
  own: ReadonlyMap<IpAddr, ReadonlySet<string>>,
  networks: readonly Network[],
): boolean {
  const devices = own.get(gateway);
  if (devices === undefined) return false;
  if (!prefixContains(LINK_LOCAL, gateway)) return true;
  const dev = gatewayDevice(gateway, networks);
  return dev !== undefined && devices.has(dev);
}

/**
 * The devices of the node's default routes, per family: a family's own, or, where it
 * has none, the other family's (the uplink is the likeliest link for its routers too).
 * An IPv6 router is often link-local (fe80::1) on another device than the IPv4 one.
 */
function primaryDevices(defaults: readonly DefaultGateway[]): Record<Family, Set<string>> {
  const of = (family: Family) => defaults.filter((g) => defaultRouteFamily(g) === family).map((g) => g.dev);
  const devices = (family: Family) => {
    const own = of(family);
    return new Set(own.length > 0 ? own : defaults.map((g) => g.dev));
  };
  return { 4: devices(4), 6: devices(6) };
}

function maskedPrefix(ip: IpAddr, length: number): Prefix | undefined {
  const parsed = parsePrefix(`${ip}/${length}`);
  return parsed.ok ? parsed.value : undefined;
}

/**
 * The device of the connected network containing `gateway`: the longest match; among
 * equally long ones, a device of the node's default routes (of the gateway's family
 * first), then the first by name.
 * Why the default routes' device: a link-local gateway (fe80::1, as clouds give IPv6
 * default routers) is on-link on every device with a link-local address, pod veths
 * included, and the router a Route means is the one on the node's own uplink.
 */
export function gatewayDevice(gateway: IpAddr, networks: readonly Network[]): string | undefined {
  let best: Network | undefined;
  for (const network of networks) {
    if (!prefixContains(network.prefix, gateway)) continue;
    if (best === undefined || betterMatch(network, best)) best = network;
  }
  return best?.dev;
}

function betterMatch(a: Network, b: Network): boolean {
  const length = prefixLength(a.prefix) - prefixLength(b.prefix);
  if (length !== 0) return length > 0;
  if (a.primary !== b.primary) return a.primary;
  return a.dev < b.dev;
}

function originalDefault(ctx: ContributionContext, family: Family): DefaultGateway | undefined {
  const candidates = (ctx.host.facts?.defaultGateways ?? []).filter((g) => defaultRouteFamily(g) === family);
  return [...candidates].sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0))[0];
}

export function setKeyOf(family: Family, probe: boolean, members: readonly SetMember[]): string {
  return `${family}|${probe ? 1 : 0}|${members.map((m) => `${m.gateway}@${m.dev}`).join(",")}`;
}

export function parseSetKey(key: string): { family: Family; probe: boolean; members: SetMember[] } {
  const [family, probe, list] = key.split("|");
  const members = (list ?? "")
    .split(",")
    .filter((m) => m !== "")
    .map((m) => {
      const at = m.indexOf("@");
      return { gateway: m.slice(0, at) as IpAddr, dev: m.slice(at + 1) };
    });
  return { family: family === "6" ? 6 : 4, probe: probe === "1", members };
}

function unselected(validation: RouteValidation): Contribution {
  const route = validation.ok ? validation.route : undefined;
  return {
    name: validation.ok ? validation.route.name : validation.name,
    generation: validation.ok ? validation.route.generation : validation.generation,
    selected: false,
    accepted: validation.ok,
    ...(validation.ok
      ? {}
      : { message: validation.issues.map((i) => `${i.field}: ${i.message}`).join("; ") }),
    destinations: [],
    claims: [],
    rules: [],
    probe: route?.probe ?? true,
    gateways: route?.gateways ?? [],
    seniority: route === undefined ? "" : seniorityOf(route),
    routableEnds: [],
  };
}

/**
 * A creation time as it sorts in a claim's rank: milliseconds at a fixed width, so that
 * times compare as times (fractions, offsets), not as text. None (or none that parses)
 * is "-", below every digit: a Route without one counts as the oldest (validate.ts).
 */
function ageKey(creationTimestamp: string): string {
  const ms = Date.parse(creationTimestamp);
  return Number.isNaN(ms) || ms < 0 ? "-" : String(ms).padStart(16, "0");
}

/** Older Routes first: creation time, then name (ageKey's order, as for a conflict). */
function seniorityOf(route: ValidRoute): string {
  return `${ageKey(route.creationTimestamp)}|${route.name}`;
}

/** Whether the Route's selector selects this node (remembered per selector, see shared-selection.ts). */
export function isSelected(route: ValidRoute, ctx: ContributionContext): boolean {
  return selectedOn(route, ctx);
}

/** The Route's contribution on this node. */
export function computeContribution(validation: RouteValidation, ctx: ContributionContext): Contribution {
  if (!validation.ok || !isSelected(validation.route, ctx)) return unselected(validation);
  const route = validation.route;
  const written = writtenDestinations(route);
  const { settings } = ctx;
  const networks = connectedNetworks(ctx);
  const own = ownAddresses(ctx);
  const addressesKnown = ctx.host.observed || ctx.kernel.observed;
  const rank = `1|${ageKey(route.creationTimestamp)}|${route.name}`;
  const splitRank = `${SPLIT_HALF_RANK}${ageKey(route.creationTimestamp)}|${route.name}`;
  const systemRank = `0|${route.name}`;
  const mayCapture = holdsProtection(route, ctx.host.facts);

  type Slot = { members: SetMember[]; offLink: IpAddr[]; own: IpAddr[] };
  const families: Record<Family, Slot> = {
    4: { members: [], offLink: [], own: [] },
    6: { members: [], offLink: [], own: [] },
  };
  for (const gateway of [...new Set(route.gateways)].sort(compareAddresses)) {
    const slot = families[familyOf(gateway)];
    if (isOwnGateway(gateway, own, networks)) {
      slot.own.push(gateway);
      continue;
    }
    const dev = gatewayDevice(gateway, networks);
    if (dev === undefined) slot.offLink.push(gateway);
    else slot.members.push({ gateway, dev });
  }

  const destinations: DestinationPlan[] = [];
  const routableEnds: RoutableEnd[] = [];
  const claims: Claim[] = [];
  const claimed = new Set<string>();
  const rules = new Map<string, KernelRule>();
  const claim = (
    ownerRank: string,
    family: Family,
    table: number,
    dst: Prefix,
    set: string,
    pins?: readonly Prefix[],
    replies?: true,
  ): string => {
    const key = routeKey({ family, table, dst, metric: settings.metric });
    const id = `${ownerRank}#${key}`;
    if (!claimed.has(id)) {
      claimed.add(id);
      const pinned = pins === undefined || pins.length === 0 ? {} : { pins };
      const guarded = replies === undefined ? {} : { replies };
      claims.push({
        owner: route.name,
        rank: ownerRank,
        key,
        family,
        table,
        dst,
        set,
        ...pinned,
        ...guarded,
      });
    }
    return key;
  };
  /**
   * SPEC §3.5's reply protection for a route to `dst` that takes what the original
   * default route carried: `dst` in the reply table via the original gateway, and the
   * rules sending there what the node's addresses on the original interface send and
   * main's specific routes do not take. Shared by every destination (and Route) needing
   * them: rules are counted by owner, the reply table's routes by claim (derive.ts).
   */
  const protectReplies = (family: Family, dst: Prefix, original: DefaultGateway, via: string) => {
    claim(systemRank, family, settings.replyTable, dst, via);
    for (const address of ctx.host.facts?.addresses ?? []) {
      if (address.dev !== original.dev || familyOf(address.ip) !== family) continue;
      const rule: KernelRule = {
        family,
        priority: settings.replyRulePriority,
        src: hostPrefix(address.ip),
        table: settings.replyTable,
        protocol: settings.protocol,
      };
      rules.set(`${rule.src}`, rule);
      rules.set(`main-first|${family}`, mainBeforeReplies(family, settings));
    }
  };

  for (const destination of route.destinations) {
    const text = written.get(destination.index) ?? destination.prefix;
    const base = { destination: text, prefix: destination.prefix, table: route.table };
    const family = destination.family;
    const slot = families[family];
    // Refused on every node alike: the Route's own verdict says so (route-verdict.ts).
    const refused = destinationRefusal(destination.prefix, route, settings);
    if (refused !== undefined) {
      destinations.push({ ...base, invalid: refused });
      continue;
    }
    if (!addressesKnown) {
      destinations.push({ ...base, pending: "waiting for the node's addresses to resolve gateway devices" });
      continue;
    }
    // Through its peers, a gateway node would send the traffic it forwards for the others
    // on to another gateway (a loop back to it, under ECMP), and through itself Linux
    // refuses an IPv6 route ("Gateway can not be a local address"): it routes nothing here.
    if (slot.own.length > 0) {
      destinations.push({
        ...base,
        skipped: `not routed on this node: it is the gateway ${slot.own.join(", ")} (a gateway node keeps its own way out)`,
      });
      continue;
    }
    if (slot.members.length === 0) {
      destinations.push({
        ...base,
        invalid: `gateway ${slot.offLink[0]} is not on-link: no connected network of the node contains it`,
      });
      continue;
    }
    const set = setKeyOf(family, route.probe, slot.members);
    const isDefault = prefixLength(destination.prefix) === 0;
    // Which addresses must keep the original gateway (and which gateway that is) only the
    // host facts say: until they are in, a destination that could hold one would go in
    // unpinned and take the API server with it. A host route holds nothing narrower.
    if (!ctx.host.observed && prefixLength(destination.prefix) < maxPrefixLength(family)) {
      destinations.push({ ...base, pending: isDefault ? WAITING_TO_OVERRIDE : WAITING_TO_JUDGE });
      continue;
    }
    /** Set when the override goes in as the halves of the address space (see override.ts): why. */
    let split: string | undefined;
    if (isDefault) {
      const original = originalDefault(ctx, family);
      if (original !== undefined) {
        const originalMetric = original.metric ?? 0;
        if (route.table === MAIN_TABLE && overrideNeedsSplit(settings.metric, originalMetric)) {
          split = `split into ${defaultHalves(family).join(" and ")}: the original default route has metric ${originalMetric}, which kroute's metric ${settings.metric} cannot undercut`;
        }
        const via = originalSet(original);
        for (const dst of protectedDestinations(ctx, destination.prefix, networks))
          claim(systemRank, family, route.table, dst, via);
        protectReplies(family, destination.prefix, original, via);
      }
    }
    // A Route's own half of the address space (a VPN's 0.0.0.0/1 and 128.0.0.0/1, as
    // OpenVPN's def1 writes them) takes all that the default route carried in it, the
    // node's replies to inbound connections (SSH, NodePorts) included: it gets the
    // override's reply protection for its half, and its claim says so (replies) so that
    // it goes in only after it (override-stages.ts). A narrower destination (a corporate
    // 10.0.0.0/8) does not: the node's own traffic to it is what the Route is for.
    const halfOriginal =
      !isDefault && isDefaultHalf(destination.prefix) && ctx.host.observed
        ? originalDefault(ctx, family)
        : undefined;
    if (halfOriginal !== undefined)
      protectReplies(family, destination.prefix, halfOriginal, originalSet(halfOriginal));
    // A narrower destination that still holds protected addresses (a VPN's 0.0.0.0/1 and
    // 128.0.0.0/1, a /8 holding the API server's public address) captures them as an
    // override would: they get the override's host routes via the original gateway, and
    // its claim names them (pins) so that it goes in only after them (override-stages.ts).
    const captured =
      isDefault || !mayCapture ? undefined : capturedProtections(ctx, destination.prefix, networks);
    if (captured !== undefined)
      for (const dst of captured.pins) claim(systemRank, family, route.table, dst, captured.via);
    const replies = halfOriginal === undefined ? undefined : true;
    const keys =
      split === undefined
        ? [claim(rank, family, route.table, destination.prefix, set, captured?.pins, replies)]
        : defaultHalves(family).map((dst) => claim(splitRank, family, route.table, dst, set));
    const leftOut = offLinkNote(slot.offLink);
    destinations.push({
      ...base,
      keys,
      set,
      ...(leftOut === undefined ? {} : { leftOut }),
      ...(split === undefined ? {} : { split }),
    });
    routableEnds.push({ claims: claims.length, rules: rules.size });
  }

  for (const issue of route.issues) {
    const match = DESTINATION_FIELD.exec(issue.field);
    if (match === null) continue;
    destinations.push({
      // Not JSON.stringify: an entry that is not a string (a CRD without a schema lets one
      // through) may be nested too deep for it to return, or be megabytes long.
      destination: written.get(Number(match[1])) ?? show(issue.value),
      invalid: `${issue.field}: ${issue.message}`,
    });
  }

  return {
    name: route.name,
    generation: route.generation,
    selected: true,
    accepted: true,
    destinations,
    claims,
    rules: [...rules.values()],
    probe: route.probe,
    gateways: [...new Set(route.gateways)].sort(compareAddresses),
    seniority: seniorityOf(route),
    routableEnds,
  };
}

/** Loopback destinations: the local table answers for them before any route of the main table. */
const LOOPBACK = ["127.0.0.0/8", "::1/128"] as Prefix[];

/** What the host facts name for protection: API servers, DNS, metadata and extras. */
function protectionCandidates(facts: HostFacts): Prefix[] {
  return [...facts.apiServers.map(hostPrefix), ...facts.dns.map(hostPrefix), ...facts.protect];
}

/** Per host facts: their protection candidates, and a key equal for facts naming the same ones. */
const candidatesByFacts = new WeakMap<
  HostFacts,
  { readonly key: string; readonly prefixes: readonly Prefix[] }
>();

function candidatesOf(facts: HostFacts): { readonly key: string; readonly prefixes: readonly Prefix[] } {
  let found = candidatesByFacts.get(facts);
  if (found === undefined) {
    const prefixes = protectionCandidates(facts);
    found = { key: prefixes.join(" "), prefixes };
    candidatesByFacts.set(facts, found);
  }
  return found;
}

/** Per Route: the answer for the last candidates asked about (nodes of one cluster name the same ones). */
const holding = new WeakMap<ValidRoute, { readonly key: string; readonly holds: boolean }>();

/**
 * Whether a destination of the Route narrower than a default route strictly holds one
 * of the host facts' protection candidates: only then can it pin host routes as an
 * override does. Remembered per Route for the candidates last asked about, not per
 * node's facts: a contribution is computed again and again, on every node, most Routes
 * hold none, and an answer per Route and node would hold one entry per node for each of
 * thousands of Routes.
 */
export function holdsProtection(route: ValidRoute, facts: HostFacts | undefined): boolean {
  if (facts === undefined) return false;
  const candidates = candidatesOf(facts);
  const last = holding.get(route);
  if (last !== undefined && last.key === candidates.key) return last.holds;
  const holds = route.destinations.some(({ prefix }) =>
    candidates.prefixes.some(
      (p) =>
        prefixLength(prefix) < prefixLength(p) &&
        familyOf(p) === familyOf(prefix) &&
        prefixContains(prefix, p),
    ),
  );
  holding.set(route, { key: candidates.key, holds });
  return holds;
}

/**
 * Whether a default route could capture traffic to `dst` at all. Not for loopback, and
 * not inside a network the node is connected to: its connected route is more specific
 * than any default. Pinning those via the original gateway would move them off the
 * interface that reaches them (an API server on the VPC network sent out of the public
 * interface cuts the node off from its control plane).
 */
function capturableByDefault(dst: Prefix, networks: readonly Network[]): boolean {
  return (
    !LOOPBACK.some((loopback) => prefixContains(loopback, dst)) &&
    !networks.some((network) => prefixContains(network.prefix, dst))
  );
}

/** Why some of a destination's gateways are not in its set, for status (undefined when none is left out). */
function offLinkNote(offLink: readonly IpAddr[]): string | undefined {
  if (offLink.length === 0) return undefined;
  const many = offLink.length > 1;
  return `gateway${many ? "s" : ""} ${offLink.join(", ")} left out: not on-link (no connected network of the node contains ${many ? "them" : "it"})`;
}

/**
 * Host routes that keep on the original gateway what a route to `within` would take from
 * the default route: the candidates strictly inside it (a default route holds them all)
 * that a default route could capture. One equal to `within` is the Route's own, not a
 * capture, and one wider than it a route to `within` does not take whole.
 */
function protectedDestinations(
  ctx: ContributionContext,
  within: Prefix,
  networks: readonly Network[],
): Prefix[] {
  const facts = ctx.host.facts;
  if (facts === undefined) return [];
  const family = familyOf(within);
  const length = prefixLength(within);
  return [
    ...new Set(
      protectionCandidates(facts).filter(
        (p) =>
          familyOf(p) === family &&
          prefixLength(p) > length &&
          prefixContains(within, p) &&
          capturableByDefault(p, networks),
      ),
    ),
  ];
}

/**
 * The protected addresses a destination narrower than a default route takes from the
 * node's default route (SPEC §3.5, "Routes that capture protected addresses"), and the
 * original gateway's set that keeps them. None when the node has no default route of the
 * family: none carries them then. Asked only once the host facts are in (until then the
 * destination waits, see computeContribution).
 */
function capturedProtections(
  ctx: ContributionContext,
  dst: Prefix,
  networks: readonly Network[],
): { readonly pins: readonly Prefix[]; readonly via: string } | undefined {
  const family = familyOf(dst);
  const original = originalDefault(ctx, family);
  if (original === undefined) return undefined;
  const pins = protectedDestinations(ctx, dst, networks);
  if (pins.length === 0) return undefined;
  return { pins, via: originalSet(original) };
}

/** The gateway set of the original default route: what protected routes and reply routes go through. */
function originalSet(original: DefaultGateway): string {
  return setKeyOf(defaultRouteFamily(original), false, [{ gateway: original.via, dev: original.dev }]);
}

/** Which protection candidates a default route could capture, as a key: what a change of context may move. */
export function protectionKey(ctx: ContributionContext): string {
  const facts = ctx.host.facts;
  if (facts === undefined) return "";
  const networks = connectedNetworks(ctx);
  return protectionCandidates(facts)
    .map((p) => (capturableByDefault(p, networks) ? "1" : "0"))
    .join("");
}

/**
 * Whether a context change can change any contribution. Address churn is frequent on
 * a node (pod interfaces come and go), so it counts only when it moves a gateway in
 * use to another device (or on or off link), makes one the node's own address or no
 * longer, or changes the addresses the reply rules are made of; anything else in the
 * host facts counts.
 */
/**
 * The rule just before the reply rules: main, without its routes of prefix length 1 or
 * less (the original default route, and the override whole or split in halves). A reply
 * rule's table holds only the original default route, so without this rule everything
 * from the node's address went to the original gateway: replies to pods and to the
 * node's own subnets too. With it, main's specific routes keep that traffic, and the
 * reply rules get only what would have taken a default route.
 */
function mainBeforeReplies(family: Family, settings: EngineSettings): KernelRule {
  return {
    family,
    priority: settings.replyRulePriority - 1,
    table: MAIN_TABLE,
    protocol: settings.protocol,
    suppressPrefixLength: 1,
  };
}

export function contextAffects(
  previous: ContributionContext,
  next: ContributionContext,
  gateways: Iterable<string>,
): boolean {
  // Route and nexthop notifications, by far the most frequent changes, keep the host
  // facts and the address list as they were: nothing below could differ, and working
  // it out (every connected network parsed twice) cost more than the change itself.
  if (
    previous.host === next.host &&
    previous.kernel.addresses === next.kernel.addresses &&
    previous.kernel.observed === next.kernel.observed
  ) {
    return false;
  }
  const known = (ctx: ContributionContext) => ctx.host.observed || ctx.kernel.observed;
  if (previous.host.observed !== next.host.observed || known(previous) !== known(next)) return true;
  const rest = (ctx: ContributionContext) => {
    const facts = ctx.host.facts;
    if (facts === undefined) return "";
    const devs = new Set(facts.defaultGateways.map((g) => g.dev));
    const replySources = facts.addresses.filter((a) => devs.has(a.dev));
    // An expiry moves whenever the router advertises again, and nothing here reads it.
    const gateways = facts.defaultGateways.map(({ expiresAt: _unused, ...gateway }) => gateway);
    return JSON.stringify([gateways, facts.dns, facts.apiServers, facts.protect, replySources]);
  };
  if (rest(previous) !== rest(next)) return true;
  if (protectionKey(previous) !== protectionKey(next)) return true;
  const before = connectedNetworks(previous);
  const after = connectedNetworks(next);
  const ownBefore = ownAddresses(previous);
  const ownAfter = ownAddresses(next);
  for (const gateway of gateways as Iterable<IpAddr>) {
    if (gatewayDevice(gateway, before) !== gatewayDevice(gateway, after)) return true;
    if (isOwnGateway(gateway, ownBefore, before) !== isOwnGateway(gateway, ownAfter, after)) return true;
  }
  return false;
}
