/**
 * The desired table of one node, read out of the incrementally maintained state,
 * and what it means for status: an outcome per Route and destination, and the
 * state of every gateway in use. O(table) — for status and tests, not the hot path
 * (plan() works from the mismatch set instead).
 */

import { cappedReason } from "./admission.ts";
import { sameRoute } from "./canonical.ts";
import { usableMembers } from "./gateway-health.ts";
import { hmGet, hmKeys, hmValues } from "./hashmap.ts";
import { compareAddresses, familyOf, type IpAddr, type Prefix, prefixContains, prefixLength } from "./ip.ts";
import type { KernelNexthop, KernelRoute, KernelRule } from "./kernel.ts";
import { nexthopSortKey, routeSortKey, ruleSortKey, sortByKey } from "./order.ts";
import type { DesiredTable, DestinationOutcome, GatewayStatus, RouteOutcome } from "./outcome.ts";
import { guardedRoute, refusedProtection } from "./override-stages.ts";
import { routeVerdict } from "./route-verdict.ts";
import type { Claim, DestinationPlan, NodeState } from "./state.ts";

export function desiredRoutes(state: NodeState): KernelRoute[] {
  return sortByKey(hmValues(state.derived.routes), routeSortKey);
}

export function desiredNexthops(state: NodeState): KernelNexthop[] {
  return sortByKey(hmValues(state.derived.nexthops), nexthopSortKey);
}

export function desiredRules(state: NodeState): KernelRule[] {
  return sortByKey(
    hmValues(state.derived.rules).map((entry) => entry.rule),
    ruleSortKey,
  );
}

function destinationOutcome(state: NodeState, route: string, plan: DestinationPlan): DestinationOutcome {
  const base = {
    route,
    destination: plan.destination,
    ...(plan.prefix === undefined ? {} : { prefix: plan.prefix }),
    ...(plan.table === undefined ? {} : { table: plan.table }),
  };
  if (plan.invalid !== undefined) return { ...base, state: "invalid", reason: plan.invalid };
  if (plan.skipped !== undefined) return { ...base, state: "skipped", reason: plan.skipped };
  if (plan.pending !== undefined || plan.keys === undefined) {
    return { ...base, state: "pending", reason: plan.pending ?? "not yet computed" };
  }
  // The keys this destination holds. A split override's half lost to a Route's own
  // destination there is no conflict: beside an unsplit default route, that Route's more
  // specific route would take the same traffic.
  const held: string[] = [];
  const yielded: string[] = [];
  for (const key of plan.keys) {
    const winner = hmGet(state.derived.contenders, key)?.[0];
    const mine =
      winner !== undefined &&
      winner.owner === route &&
      !winner.rank.startsWith("0|") &&
      winner.set === plan.set;
    if (mine) {
      held.push(key);
      continue;
    }
    if (plan.split !== undefined && winner?.rank.startsWith("1|")) {
      yielded.push(`${winner.dst} left to Route ${winner.owner}`);
      continue;
    }
    const reason =
      winner === undefined
        ? "no claim recorded"
        : winner.rank.startsWith("0|")
          ? `reserved by ${reservedFor(state, winner)}: protected addresses keep the original gateway`
          : `conflicts with Route ${winner.owner}, which wins ${winner.dst} in table ${plan.table} (older creationTimestamp, then name)`;
    return { ...base, state: "conflicted", reason };
  }
  const set = plan.set === undefined ? undefined : hmGet(state.derived.sets, plan.set);
  const usable = set === undefined ? undefined : usableMembers(set, state);
  const gateways = usable?.members.map((m) => m.gateway) ?? [];
  const extra = {
    gateways,
    ...(usable?.failStatic ? { failStatic: true } : {}),
    ...(plan.leftOut === undefined ? {} : { leftOut: plan.leftOut }),
  };
  const desired = held.map((key) => hmGet(state.derived.routes, key));
  if (desired.some((route) => route === undefined)) {
    return { ...base, ...extra, state: "invalid", reason: "no nexthop id left in kroute's id range" };
  }
  const failure = held
    .map((key, i) => {
      const target = desired[i]?.target;
      return (
        state.failures[`r|${key}`] ??
        (target?.kind === "nexthop-object" ? state.failures[`n|${target.id}`] : undefined)
      );
    })
    .find((f) => f !== undefined);
  const notes = [plan.split, ...yielded, plan.leftOut].filter((note) => note !== undefined);
  const noted = notes.map((note) => `; ${note}`).join("");
  if (failure !== undefined)
    return { ...base, ...extra, state: "failed", reason: `${failure.message}${noted}` };
  const programmed = held.every((key, i) => sameRoute(desired[i], hmGet(state.kernel.routes, key)));
  // An override whose protection the kernel refuses has failed at what it promises: held
  // back by plan() (override-stages.ts) while not yet in, or, when it is in already (a
  // protection added later, for a new API server endpoint say), taking what it should
  // leave on the original gateway. Either way the refusal is named, as one of its own would be.
  // The same for a destination that captures protected addresses (a VPN's /1 pair).
  const guarded = desired.flatMap((r) => (r === undefined ? [] : (guardedRoute(state, r) ?? [])))[0];
  const blocker = guarded === undefined ? undefined : refusedProtection(state, guarded);
  if (guarded !== undefined && blocker !== undefined) {
    const refusal = `the kernel refused ${blocker.what} (${blocker.failure.message})`;
    const what = guarded.pins === undefined ? "the override" : `the route to ${guarded.route.dst}`;
    const why = programmed
      ? `${refusal}: that address follows ${what}`
      : `held back: ${refusal}, and ${what} waits for it`;
    return { ...base, ...extra, state: "failed", reason: `${why}${noted}` };
  }
  const reason = programmed ? (notes.length === 0 ? undefined : notes.join("; ")) : `not yet applied${noted}`;
  return {
    ...base,
    ...extra,
    state: programmed ? "programmed" : "pending",
    ...(reason === undefined ? {} : { reason }),
  };
}

/** A destination the cap leaves out: refused like a protected one, naming the setting. */
function cappedOutcome(state: NodeState, route: string, plan: DestinationPlan): DestinationOutcome {
  return {
    route,
    destination: plan.destination,
    ...(plan.prefix === undefined ? {} : { prefix: plan.prefix }),
    ...(plan.table === undefined ? {} : { table: plan.table }),
    state: "invalid",
    reason: cappedReason(state.settings.maxDestinations ?? 0),
  };
}

/**
 * What a protected host route is kept for, for a destination it beats: the default-route
 * override of its Route, or else the Route's destination that holds the address.
 */
function reservedFor(state: NodeState, protection: Claim): string {
  const owner = hmGet(state.derived.contributions, protection.owner);
  const holders = (owner?.destinations ?? []).flatMap((plan) =>
    plan.prefix !== undefined &&
    familyOf(plan.prefix) === protection.family &&
    prefixLength(plan.prefix) < prefixLength(protection.dst) &&
    prefixContains(plan.prefix, protection.dst)
      ? [plan]
      : [],
  );
  const override = holders.length === 0 || holders.some((plan) => prefixLength(plan.prefix as Prefix) === 0);
  if (override) return `the default-route override of Route ${protection.owner}`;
  return `Route ${protection.owner}, whose destination ${holders[0]?.destination} holds it`;
}

/**
 * The outcome of one Route on this node, or undefined when the Route is unknown: the
 * Route's own verdict, the same on every node (route-verdict.ts), and what each of its
 * destinations came to here.
 */
export function routeOutcome(state: NodeState, name: string): RouteOutcome | undefined {
  const validation = hmGet(state.routes.byName, name);
  if (validation === undefined) return undefined;
  const verdict = routeVerdict(validation, state.settings);
  const generation = validation.ok ? validation.route.generation : validation.generation;
  const contribution = hmGet(state.derived.contributions, name);
  const plans = contribution?.selected ? contribution.destinations : undefined;
  // Past --max-destinations, a Route's later routable destinations are left out (admission.ts).
  const admitted = hmGet(state.derived.capped, name) ?? Number.POSITIVE_INFINITY;
  let routable = 0;
  return {
    route: name,
    generation,
    selected: plans !== undefined,
    ...verdict,
    destinations: (plans ?? []).map((plan) => {
      if (plan.keys !== undefined && ++routable > admitted) return cappedOutcome(state, name, plan);
      return destinationOutcome(state, name, plan);
    }),
  };
}

export function gatewayStatuses(state: NodeState): GatewayStatus[] {
  const users = new Map<IpAddr, { usedBy: Set<string>; probed: boolean }>();
  for (const contribution of hmValues(state.derived.contributions)) {
    if (!contribution.selected) continue;
    for (const gateway of contribution.gateways) {
      const entry = users.get(gateway) ?? { usedBy: new Set<string>(), probed: false };
      entry.usedBy.add(contribution.name);
      entry.probed ||= contribution.probe;
      users.set(gateway, entry);
    }
  }
  return [...users.entries()]
    .sort(([a], [b]) => compareAddresses(a, b))
    .map(([gateway, entry]) => {
      const usedBy = [...entry.usedBy].sort();
      const probe = state.probes[gateway];
      if (!entry.probed) return { gateway, state: "unprobed", usedBy };
      if (probe === undefined) return { gateway, state: "unknown", usedBy };
      return {
        gateway,
        state: probe.up ? "up" : "down",
        ...(probe.rttMs === undefined ? {} : { rttMs: probe.rttMs }),
        since: probe.since,
        usedBy,
      };
    });
}

export function routeOutcomes(state: NodeState): RouteOutcome[] {
  return [...hmKeys(state.routes.byName)]
    .sort()
    .map((name) => routeOutcome(state, name))
    .filter((o) => o !== undefined);
}

export function desiredTable(state: NodeState): DesiredTable {
  return {
    routes: desiredRoutes(state),
    nexthops: desiredNexthops(state),
    rules: desiredRules(state),
    outcomes: routeOutcomes(state),
    gateways: gatewayStatuses(state),
  };
}
