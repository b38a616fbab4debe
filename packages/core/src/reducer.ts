/**
 * The reducer: one pure step from a state and an event to the next state. Each
 * slice is replaced or updated from its own source; the desired table in
 * `derived` is maintained incrementally for Route, probe and kernel events, and
 * rebuilt whole only when something every Route depends on changes: the node's
 * labels, the settings, host facts or addresses that matter (see contextAffects).
 */
import { Immer } from "immer";
import { canonicalOp, opObjectKey } from "./canonical.ts";
import { contextAffects, isSelected } from "./contribution.ts";
import {
  gatewayHealthChanged,
  rebuild,
  setContribution,
  setContributions,
  startWork,
  syncOthersIds,
  touch,
  touchAll,
  touchMany,
  type Work,
} from "./derive.ts";
import type { EngineEvent, EventOf } from "./events.ts";
import { countsAsDown } from "./gateway-health.ts";
import { hmForEach, hmGet, hmHas, hmKeys } from "./hashmap.ts";
import type { KernelChange, Op } from "./kernel.ts";
import { applyAccepted, applyKernelChange, ownedFromSnapshot } from "./owned.ts";
import type { RouteValidation } from "./route.ts";
import { selectedRoutes } from "./selector-groups.ts";
import type { EngineSettings } from "./settings.ts";
import { sharedContribution } from "./shared-contribution.ts";
import { validatedRoute, validatedSnapshot, validationName, withRoute } from "./shared-routes.ts";
import { leftOutInKernel, syncedOnce } from "./start-health.ts";
import {
  type Contribution,
  emptyKernelState,
  type NodeState,
  type OpFailure,
  type OwnedKernelState,
} from "./state.ts";

/** Retry backoff after a kernel refusal: 1 s doubling per attempt, at most 5 min. */
export const RETRY_INITIAL_MS = 1000;
export const RETRY_MAX_MS = 300_000;

export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_INITIAL_MS * 2 ** Math.max(0, attempts - 1), RETRY_MAX_MS);
}

function work(state: NodeState, kernel: OwnedKernelState = state.kernel): Work {
  return startWork(state.derived, state.settings, state, kernel);
}

/**
 * Every contribution recomputed (a context change) and the derived state rebuilt from
 * them. Only the Routes selected here are computed and set: the others contribute
 * nothing, and they are most Routes on most nodes (a node of one pool in ten: 4,500 of
 * 5,000). `selected`: those Routes, when the caller has just found them (a label move).
 */
function rebuilt(
  state: NodeState,
  selected = selectedRoutes(state.routes.byName, state),
): NodeState["derived"] {
  const w = work(state);
  rebuild(
    w,
    selected.map((v) => sharedContribution(v, state)),
  );
  return w.d;
}

function ownershipChanged(a: EngineSettings, b: EngineSettings): boolean {
  return (
    a.protocol !== b.protocol ||
    a.adoptProtocol !== b.adoptProtocol ||
    a.nexthopIdBase !== b.nexthopIdBase ||
    a.nexthopIdCount !== b.nexthopIdCount
  );
}

function failureAfter(
  previous: OpFailure | undefined,
  op: string,
  result: { errno: number; code: string; message: string },
  at: string,
): OpFailure {
  const attempts = previous?.op === op ? previous.attempts + 1 : 1;
  return {
    errno: result.errno,
    code: result.code,
    message: result.message,
    attempts,
    at,
    retryAt: new Date(Date.parse(at) + retryDelayMs(attempts)).toISOString(),
    gated: true,
    op,
  };
}

function isNodeScoped(event: EngineEvent): event is Extract<EngineEvent, { node: string }> {
  return "node" in event;
}

/**
 * A private immer without auto-freeze: freezing every copied path of the persistent
 * maps cost four times the update itself (measured, scripts/bench/core-scale.ts).
 * States are still never mutated: every slice is replaced, never written in place.
 */
const { produce } = new Immer({ autoFreeze: false });

/**
 * Slices are replaced whole with values computed from the previous state (the big maps
 * inside are persistent, see hashmap.ts), so the recipe only assigns top-level slices.
 */
type Writable = { -readonly [K in keyof NodeState]: NodeState[K] };

export function reduce(state: NodeState, event: EngineEvent): NodeState {
  if (isNodeScoped(event) && event.node !== state.nodeName) return state;
  return settleFailures(withPresumptions(state, reduceEvent(state, event), event));
}

function reduceEvent(state: NodeState, event: EngineEvent): NodeState {
  switch (event.type) {
    case "route/upserted": {
      const validation = validatedRoute(event.route);
      return routeChanged(
        state,
        event.at,
        validationName(validation),
        validation,
        sharedContribution(validation, state),
      );
    }
    case "route/deleted":
      return routeChanged(state, event.at, event.name, undefined, undefined);
    default:
      return reduceSlices(state, event);
  }
}

/** Events that bring the kernel found at start, or the gateway sets read against it. */
const BRINGS_EVIDENCE: ReadonlySet<EngineEvent["type"]> = new Set([
  "agent/configured",
  "kernel/observed",
  "host/observed",
  "node/observed",
  "route/resynced",
  "route/upserted",
  "route/deleted",
]);

/**
 * Until every source has synced once, gateways the kernel shows left out of their sets
 * are presumed down (start-health.ts); a presumption for a gateway no Route names any
 * more is dropped, so that the gateway counts as new if it comes back.
 */
function withPresumptions(before: NodeState, after: NodeState, event: EngineEvent): NodeState {
  const evidence =
    BRINGS_EVIDENCE.has(event.type) &&
    !syncedOnce(before) &&
    (after.derived !== before.derived || after.kernel !== before.kernel);
  const presumed = evidence ? leftOutInKernel(after) : [];
  const unused = Object.keys(after.presumedDown).filter((g) => !hmHas(after.derived.gatewayUse, g));
  if (presumed.length === 0 && unused.length === 0) return after;
  const presumedDown = { ...after.presumedDown };
  for (const gateway of unused) delete presumedDown[gateway];
  for (const gateway of presumed) presumedDown[gateway] = true;
  const w = startWork(after.derived, after.settings, { probes: after.probes, presumedDown }, after.kernel);
  for (const gateway of presumed) gatewayHealthChanged(w, gateway);
  return { ...after, presumedDown, derived: w.d };
}

/**
 * One Route set (validation) or deleted (undefined). A Route that neither was nor is
 * selected here contributes nothing either way, so only the index by name changes:
 * most Route events on most nodes are these (a Route selects one pool of ten), and
 * they leave the derived state as it is, not even copied.
 */
function routeChanged(
  state: NodeState,
  at: string,
  name: string,
  validation: RouteValidation | undefined,
  contribution: Contribution | undefined,
): NodeState {
  const routes = { ...state.routes, byName: withRoute(state.routes.byName, name, validation) };
  const before = hmGet(state.derived.contributions, name);
  if (before === undefined && (contribution === undefined || contributesNothing(contribution)))
    return { ...state, now: at, routes };
  const w = work(state);
  setContribution(w, name, contribution);
  return { ...state, now: at, routes, derived: w.d };
}

/** What setContribution would leave unchanged when the Route had no contribution before either. */
function contributesNothing(contribution: Contribution): boolean {
  return !contribution.selected && contribution.claims.length === 0 && contribution.rules.length === 0;
}

/** A refusal is forgotten once its object no longer differs from the desired state (converged or no longer wanted). */
function settleFailures(state: NodeState): NodeState {
  const keys = Object.keys(state.failures);
  const kept = keys.filter((key) => hmHas(state.derived.mismatch, key));
  if (kept.length === keys.length) return state;
  return {
    ...state,
    failures: Object.fromEntries(kept.map((key) => [key, state.failures[key] as OpFailure])),
  };
}

function reduceSlices(state: NodeState, event: EngineEvent): NodeState {
  return produce<NodeState, Writable>(state, (draft) => {
    draft.now = event.at;
    switch (event.type) {
      case "route/resynced": {
        const byName = validatedSnapshot(event.routes);
        const next = { ...state, routes: { synced: true, byName } };
        draft.routes = next.routes;
        draft.derived = rebuilt(next);
        return;
      }
      case "node/observed":
        return observeNode(state, draft, event);
      case "host/observed": {
        const facts = {
          defaultGateways: event.defaultGateways,
          addresses: event.addresses,
          dns: event.dns,
          apiServers: event.apiServers,
          protect: event.protect,
        };
        if (state.host.observed && JSON.stringify(state.host.facts) === JSON.stringify(facts)) return;
        const next = { ...state, host: { observed: true, facts } };
        draft.host = next.host;
        if (contextAffects(state, next, hmKeys(state.derived.gatewayUse))) draft.derived = rebuilt(next);
        return;
      }
      case "probe/result": {
        const previous = state.probes[event.gateway];
        const since = previous !== undefined && previous.up === event.up ? previous.since : event.at;
        const probes = {
          ...state.probes,
          [event.gateway]: {
            up: event.up,
            since,
            ...(event.rttMs === undefined ? {} : { rttMs: event.rttMs }),
          },
        };
        draft.probes = probes;
        // A presumption lasts until the first verdict (start-health.ts).
        const presumed = state.presumedDown[event.gateway] === true;
        const presumedDown = presumed
          ? Object.fromEntries(Object.entries(state.presumedDown).filter(([g]) => g !== event.gateway))
          : state.presumedDown;
        if (presumed) draft.presumedDown = presumedDown;
        const wasUp = !countsAsDown(state, event.gateway);
        if (wasUp === event.up) return;
        const w = startWork(state.derived, state.settings, { probes, presumedDown }, state.kernel);
        gatewayHealthChanged(w, event.gateway);
        draft.derived = w.d;
        return;
      }
      case "agent/configured": {
        if (JSON.stringify(state.settings) === JSON.stringify(event.settings)) return;
        const kernel = ownershipChanged(state.settings, event.settings)
          ? { ...emptyKernelState(), links: state.kernel.links, addresses: state.kernel.addresses }
          : state.kernel;
        const next = { ...state, settings: event.settings, kernel };
        draft.settings = event.settings;
        draft.kernel = kernel;
        draft.derived = rebuilt(next);
        return;
      }
      case "kernel/observed": {
        const kernel = ownedFromSnapshot(event.snapshot, state.settings);
        draft.kernel = kernel;
        const next = { ...state, kernel };
        if (contextAffects(state, next, hmKeys(state.derived.gatewayUse))) {
          draft.derived = rebuilt(next);
          return;
        }
        const w = work(state, kernel);
        syncOthersIds(w);
        touchAll(w);
        draft.derived = w.d;
        return;
      }
      case "kernel/changed": {
        const touched: string[] = [];
        const kernel = applyKernelChange(state.kernel, event.change, state.settings, touched);
        if (linkCameBack(event.change)) draft.failures = reopenedGates(state.failures);
        if (kernel === state.kernel) return;
        draft.kernel = kernel;
        if (contextAffects(state, { ...state, kernel }, hmKeys(state.derived.gatewayUse))) {
          draft.derived = rebuilt({ ...state, kernel });
          return;
        }
        const othersMoved = kernel.othersIds !== state.kernel.othersIds;
        if (touched.length === 0 && !othersMoved) return;
        const w = work(state, kernel);
        if (othersMoved) syncOthersIds(w);
        for (const key of touched) touch(w, key);
        draft.derived = w.d;
        return;
      }
      case "dataplane/applied":
        return applied(state, draft, event);
      case "timer/fired": {
        if (event.timer !== "retry") return;
        draft.failures = reopenedGates(state.failures, Date.parse(event.at));
        return;
      }
    }
  });
}

function observeNode(state: NodeState, draft: Writable, event: EventOf<"node/observed">): void {
  const node = { observed: true, labels: event.labels };
  if (state.node.observed && JSON.stringify(state.node.labels) === JSON.stringify(event.labels)) return;
  const next = { ...state, node };
  draft.node = node;
  draft.derived = reselected(next);
}

/**
 * After a label change only selection can differ (labels reach a contribution through
 * the node selector alone), so only the Routes whose contribution changed are replaced,
 * as a Route update would: a change of a few labels costs the Routes it flips, not a
 * rebuild of every Route (SPEC §1: re-evaluated whenever labels change). When more
 * Routes flip than stay selected (a node moving between pools loses all of one pool's
 * and gains another's), the derived state is rebuilt from the selected ones instead:
 * taking each lost Route's claims out one by one costs as much as putting them in.
 * Which way to go is counted from the Routes selected now, found by selector
 * (selector-groups.ts), and those selected before, which are the contributions kept;
 * only a few flips are worth finding one by one, in the index's order.
 */
function reselected(state: NodeState): NodeState["derived"] {
  const selectedNow = selectedRoutes(state.routes.byName, state);
  const before = state.derived.contributions;
  let kept = 0;
  for (const validation of selectedNow) if (hmHas(before, validationName(validation))) kept++;
  const flips = before.size - kept + (selectedNow.length - kept);
  if (flips > kept) return rebuilt(state, selectedNow);
  const flipped: [string, RouteValidation][] = [];
  hmForEach(state.routes.byName, (validation, name) => {
    const selected = validation.ok && isSelected(validation.route, state);
    // Selected before and after: the same context gives the same contribution.
    if (hmHas(before, name) !== selected) flipped.push([name, validation]);
  });
  const w = work(state);
  setContributions(
    w,
    flipped.map(([name, validation]) => [name, sharedContribution(validation, state)] as const),
  );
  return w.d;
}

/**
 * A plan's results fed back. The kernel takes the accepted ops in one pass (applyAccepted),
 * and the objects they touched are checked again together (touchMany): a label move feeds
 * back some 2,000 results.
 */
function applied(state: NodeState, draft: Writable, event: EventOf<"dataplane/applied">): void {
  const failures: Record<string, OpFailure> = { ...state.failures };
  // Without any refusal to forget, an accepted op needs no object key.
  let failing = Object.keys(failures).length > 0;
  const echoed = new Set(event.echoed);
  const accepted: Op[] = [];
  for (const [i, { op, result }] of event.results.entries()) {
    if (result.ok) {
      // An echoed op is in the owned state already, with whatever the kernel announced after it.
      if (!echoed.has(i)) accepted.push(op);
      if (failing) delete failures[opObjectKey(op)];
    } else {
      const key = opObjectKey(op);
      failures[key] = failureAfter(failures[key], canonicalOp(op), result, event.at);
      failing = true;
    }
  }
  const touched: string[] = [];
  const kernel = applyAccepted(state.kernel, accepted, touched);
  draft.failures = failures;
  draft.kernel = kernel;
  const w = work(state, kernel);
  touchMany(w, touched);
  draft.derived = w.d;
}

/** Retry gates whose time has come (all of them without a time) are opened. */
function reopenedGates(
  failures: NodeState["failures"],
  now = Number.POSITIVE_INFINITY,
): NodeState["failures"] {
  const next = { ...failures };
  for (const [key, failure] of Object.entries(next)) {
    if (failure.gated && Date.parse(failure.retryAt) <= now) next[key] = { ...failure, gated: false };
  }
  return next;
}

/**
 * A link that is back (up, with carrier) is when refusals like "Nexthop device is
 * not up" stop being true: retry at once instead of waiting out the backoff.
 */
function linkCameBack(change: KernelChange): boolean {
  return change.kind === "link" && change.action === "new" && change.link.up && change.link.carrier;
}
