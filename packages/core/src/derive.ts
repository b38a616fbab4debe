/**
 * Incremental maintenance of the desired table (state.derived). Each function
 * changes only what one contribution, one gateway's health or one kernel object
 * touches: claims per route key, gateway sets with their shared nexthop objects,
 * ids, rules, and the set of keys where desired and observed differ.
 *
 * Works on a local mutable record of immutable maps; callers pass a fresh copy and
 * keep the result, so the reducer stays pure.
 */

import {
  admission,
  admittedAt,
  admittedClaims,
  admittedRules,
  routableCount,
  seniorityOrderOf,
} from "./admission.ts";
import { canonicalRoute, sameNexthop, sameRoute, sameRule } from "./canonical.ts";
import { parseSetKey } from "./contribution.ts";
import { type GatewayHealth, usableMembers } from "./gateway-health.ts";
import {
  emptyHashMap,
  type HashMap,
  hmDelete,
  hmEntries,
  hmForEach,
  hmGet,
  hmKeys,
  hmPut,
  hmSet,
  hmValues,
} from "./hashmap.ts";
import { compareAddresses, type IpAddr } from "./ip.ts";
import { type KernelNexthop, type KernelRoute, type KernelRule, ruleKey } from "./kernel.ts";
import { allocateId, freeFromOther, holdForOther, type IdMove, releaseId } from "./nexthop-ids.ts";
import { keptForOthers } from "./nexthop-users.ts";
import { cutOf, orderDelete, orderInsert, orderVisit } from "./seniority-order.ts";
import type { EngineSettings } from "./settings.ts";
import {
  type Claim,
  type Contribution,
  type DerivedState,
  emptyNexthopIds,
  type GatewaySet,
  type OwnedKernelState,
  type SetMember,
} from "./state.ts";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export interface Work {
  readonly d: Mutable<DerivedState>;
  /** Set while rebuilding: every key is checked once at the end instead of on each change. */
  deferTouch?: boolean;
  readonly settings: EngineSettings;
  readonly health: GatewayHealth;
  readonly kernel: OwnedKernelState;
}

export function startWork(
  derived: DerivedState,
  settings: EngineSettings,
  health: GatewayHealth,
  kernel: OwnedKernelState,
): Work {
  return { d: { ...derived }, settings, health, kernel };
}

function groupsMode(w: Work): boolean {
  return w.settings.nexthopMode === "groups";
}

export function gatewayObjectKey(member: SetMember): string {
  return `gw|${member.gateway}|${member.dev}`;
}

// ---- mismatch tracking ------------------------------------------------------------

/** Whether the desired and observed objects of one key agree; `kind` is an object key's first letter. */
function agrees(w: Work, kind: string, key: string): boolean {
  switch (kind) {
    case "r":
      return sameRoute(hmGet(w.d.routes, key), hmGet(w.kernel.routes, key));
    case "n": {
      const desired = hmGet(w.d.nexthops, key);
      const observed = hmGet(w.kernel.nexthops, key);
      // Kept for another program's route through it: no Route wants it, yet it stays.
      if (desired === undefined && observed !== undefined)
        return keptForOthers(w.kernel.nexthopUsers, w.kernel.nexthops, observed.id);
      return sameNexthop(desired, observed);
    }
    default:
      return sameRule(hmGet(w.d.rules, key)?.rule, hmGet(w.kernel.rules, key));
  }
}

/** Re-checks one object key ("r|…", "n|…", "u|…") against the kernel. */
export function touch(w: Work, objectKey: string): void {
  if (w.deferTouch) return;
  w.d.mismatch = agrees(w, objectKey[0] as string, objectKey.slice(2))
    ? hmDelete(w.d.mismatch, objectKey)
    : hmSet(w.d.mismatch, objectKey, true);
}

/**
 * Re-checks many object keys (a plan's results fed back). When they are as many as the
 * keys that differ now, the set is made again instead: the keys not re-checked, and those
 * re-checked that still differ. A label move's results take some 2,000 keys out of the
 * set, and deleting them one at a time copied a path of the set at each.
 */
export function touchMany(w: Work, objectKeys: readonly string[]): void {
  if (w.deferTouch) return;
  const checked = new Set(objectKeys);
  if (checked.size === 0 || checked.size < w.d.mismatch.size) {
    for (const key of checked) touch(w, key);
    return;
  }
  let mismatch = emptyHashMap<true>();
  hmForEach(w.d.mismatch, (_value, key) => {
    if (!checked.has(key)) mismatch = hmSet(mismatch, key, true);
  });
  for (const key of checked)
    if (!agrees(w, key[0] as string, key.slice(2))) mismatch = hmSet(mismatch, key, true);
  w.d.mismatch = mismatch;
}

/**
 * Re-checks every key of both sides (after a full kernel dump or a rebuild). The set
 * starts empty and a key checked twice (on both sides) gets the same answer, so only
 * mismatches are written: a rebuild checks thousands of keys, nearly all in agreement.
 */
export function touchAll(w: Work): void {
  let mismatch = emptyHashMap<true>();
  const check = (kind: string) => (_value: unknown, key: string) => {
    if (!agrees(w, kind, key)) mismatch = hmSet(mismatch, `${kind}|${key}`, true);
  };
  hmForEach(w.d.routes, check("r"));
  hmForEach(w.kernel.routes, check("r"));
  hmForEach(w.d.nexthops, check("n"));
  hmForEach(w.kernel.nexthops, check("n"));
  hmForEach(w.d.rules, check("u"));
  hmForEach(w.kernel.rules, check("u"));
  w.d.mismatch = mismatch;
}

// ---- nexthop objects ---------------------------------------------------------------

function desiredObject(w: Work, objectKey: string, id: number): KernelNexthop | undefined {
  if (objectKey.startsWith("gw|")) {
    const [, gateway, dev] = objectKey.split("|") as [string, IpAddr, string];
    return {
      kind: "gateway",
      id,
      family: gateway.includes(":") ? 6 : 4,
      protocol: w.settings.protocol,
      gateway,
      dev,
    };
  }
  const set = hmGet(w.d.sets, objectKey);
  if (set === undefined) return undefined;
  // A group of the gateways that found an id would stand for the whole set while sending
  // nothing to the others, and vanish when those were the healthy ones: none, then.
  if (set.members.some((m) => hmGet(w.d.ids.byKey, gatewayObjectKey(m)) === undefined)) return undefined;
  const members = usableMembers(set, w.health)
    .members.map((m) => hmGet(w.d.ids.byKey, gatewayObjectKey(m)))
    .filter((memberId) => memberId !== undefined)
    .sort((a, b) => a - b)
    .map((memberId) => ({ id: memberId, weight: 1 }));
  if (members.length === 0) return undefined;
  const resilient = w.settings.resilient;
  return resilient === undefined
    ? { kind: "group", id, protocol: w.settings.protocol, members, groupType: "mpath" }
    : { kind: "group", id, protocol: w.settings.protocol, members, groupType: "resilient", resilient };
}

/** Puts the desired object of `objectKey` at its current id (or removes it when it has none). */
function placeObject(w: Work, objectKey: string): void {
  const was = hmGet(w.d.placed, objectKey);
  const id = hmGet(w.d.ids.byKey, objectKey);
  if (was !== undefined && was !== id && hmGet(w.d.ids.byId, String(was)) === undefined) {
    w.d.nexthops = hmDelete(w.d.nexthops, String(was));
    touch(w, `n|${was}`);
  }
  const object = id === undefined ? undefined : desiredObject(w, objectKey, id);
  if (id === undefined || object === undefined) {
    if (id !== undefined) {
      w.d.nexthops = hmDelete(w.d.nexthops, String(id));
      touch(w, `n|${id}`);
    }
    w.d.placed = hmDelete(w.d.placed, objectKey);
    return;
  }
  w.d.nexthops = hmSet(w.d.nexthops, String(id), object);
  w.d.placed = hmSet(w.d.placed, objectKey, id);
  touch(w, `n|${id}`);
}

/** After ids moved: vacate old slots first (another object may take them), then place and refresh users. */
function applyMoves(w: Work, moves: readonly IdMove[]): void {
  for (const move of moves) {
    // A full range keeps the first keys in sorted order (nexthop-ids.ts): a key displaced
    // by a newer one still wants an id, and waits for one to free up.
    if (move.to === undefined) w.d.starved = hmSet(w.d.starved, move.key, true);
    if (move.from === undefined) continue;
    const there = hmGet(w.d.ids.byId, String(move.from));
    if (there === undefined) {
      w.d.nexthops = hmDelete(w.d.nexthops, String(move.from));
      touch(w, `n|${move.from}`);
    }
    if (hmGet(w.d.placed, move.key) === move.from) w.d.placed = hmDelete(w.d.placed, move.key);
  }
  // Moved objects, and any that found no free id (its users then lose their route, reported as such).
  for (const move of moves) {
    placeObject(w, move.key);
    if (move.key.startsWith("gw|")) {
      const [, gateway, dev] = move.key.split("|") as [string, string, string];
      for (const setKey of hmKeys(hmGet(w.d.gatewaySets, gateway) ?? emptyHashMap<true>())) {
        const set = hmGet(w.d.sets, setKey);
        if (set === undefined || !set.members.some((m) => m.dev === dev)) continue;
        if (set.members.length > 1) placeObject(w, setKey);
        // Routes of a one-gateway set point at the gateway itself; a group may just have come into being.
        refreshUsers(w, set);
      }
    } else {
      const set = hmGet(w.d.sets, move.key);
      if (set !== undefined) refreshUsers(w, set);
    }
  }
}

function allocate(w: Work, objectKey: string): void {
  const result = allocateId(w.d.ids, objectKey, w.settings);
  w.d.ids = result.ids;
  applyMoves(
    w,
    result.moves.filter((m) => m.key !== objectKey),
  );
  if (hmGet(w.d.ids.byKey, objectKey) === undefined) w.d.starved = hmSet(w.d.starved, objectKey, true);
  placeObject(w, objectKey);
}

function release(w: Work, objectKey: string): void {
  w.d.starved = hmDelete(w.d.starved, objectKey);
  const id = hmGet(w.d.ids.byKey, objectKey);
  if (id === undefined) return;
  const result = releaseId(w.d.ids, objectKey, w.settings);
  w.d.ids = result.ids;
  w.d.placed = hmDelete(w.d.placed, objectKey);
  if (hmGet(w.d.ids.byId, String(id)) === undefined) {
    w.d.nexthops = hmDelete(w.d.nexthops, String(id));
    touch(w, `n|${id}`);
  }
  applyMoves(
    w,
    result.moves.filter((m) => m.key !== objectKey),
  );
  grantWaiting(w);
}

/** A freed id goes to the first object that was waiting for one (in key order, for determinism). */
function grantWaiting(w: Work): void {
  const waiting = hmKeys(w.d.starved).sort()[0];
  if (waiting === undefined) return;
  w.d.starved = hmDelete(w.d.starved, waiting);
  const granted = allocateId(w.d.ids, waiting, w.settings);
  w.d.ids = granted.ids;
  applyMoves(w, granted.moves);
}

/**
 * Brings the ids others hold in the range to what the kernel shows: an object of kroute's
 * at an id another took moves to a free one (its routes and groups follow it), and
 * objects probed past an id given back move home. The other's object is never touched:
 * it is not in the desired table, and not in the owned state either.
 */
export function syncOthersIds(w: Work): void {
  const held = w.kernel.othersIds;
  if (w.d.ids.others === held) return;
  const byId = (a: [string, number], b: [string, number]) => Number(a[0]) - Number(b[0]);
  for (const [id] of [...hmEntries(w.d.ids.others)].sort(byId)) {
    if (hmGet(held, id) !== undefined) continue;
    const result = freeFromOther(w.d.ids, Number(id), w.settings);
    w.d.ids = result.ids;
    applyMoves(w, result.moves);
    grantWaiting(w);
  }
  for (const [id, protocol] of [...hmEntries(held)].sort(byId)) {
    const result = holdForOther(w.d.ids, Number(id), protocol, w.settings);
    w.d.ids = result.ids;
    applyMoves(w, result.moves);
  }
  // The same map from now on, so that an unchanged kernel costs nothing next time.
  w.d.ids = { ...w.d.ids, others: held };
}

// ---- gateway sets ------------------------------------------------------------------

function activateSet(w: Work, setKey: string): GatewaySet {
  const parsed = parseSetKey(setKey);
  const set: GatewaySet = { key: setKey, ...parsed, users: emptyHashMap() };
  w.d.sets = hmSet(w.d.sets, setKey, set);
  for (const member of set.members) {
    const users = hmGet(w.d.gatewaySets, member.gateway) ?? emptyHashMap<true>();
    w.d.gatewaySets = hmSet(w.d.gatewaySets, member.gateway, hmSet(users, setKey, true));
    if (!groupsMode(w)) continue;
    const objectKey = gatewayObjectKey(member);
    const refs = hmGet(w.d.gatewayRefs, objectKey) ?? 0;
    w.d.gatewayRefs = hmSet(w.d.gatewayRefs, objectKey, refs + 1);
    if (refs === 0) allocate(w, objectKey);
  }
  if (groupsMode(w) && set.members.length > 1) allocate(w, setKey);
  return set;
}

function deactivateSet(w: Work, set: GatewaySet): void {
  if (groupsMode(w) && set.members.length > 1) release(w, set.key);
  w.d.sets = hmDelete(w.d.sets, set.key);
  for (const member of set.members) {
    const users = hmDelete(hmGet(w.d.gatewaySets, member.gateway) ?? emptyHashMap<true>(), set.key);
    w.d.gatewaySets = hmPut(w.d.gatewaySets, member.gateway, users.size === 0 ? undefined : users);
    if (!groupsMode(w)) continue;
    const objectKey = gatewayObjectKey(member);
    const refs = (hmGet(w.d.gatewayRefs, objectKey) ?? 1) - 1;
    w.d.gatewayRefs = hmPut(w.d.gatewayRefs, objectKey, refs === 0 ? undefined : refs);
    if (refs === 0) release(w, objectKey);
  }
}

function useSet(w: Work, setKey: string, key: string): void {
  const set = hmGet(w.d.sets, setKey) ?? activateSet(w, setKey);
  w.d.sets = hmSet(w.d.sets, setKey, { ...set, users: hmSet(set.users, key, true) });
}

function unuseSet(w: Work, setKey: string, key: string): void {
  const set = hmGet(w.d.sets, setKey);
  if (set === undefined) return;
  const users = hmDelete(set.users, key);
  if (users.size === 0) deactivateSet(w, set);
  else w.d.sets = hmSet(w.d.sets, setKey, { ...set, users });
}

function refreshUsers(w: Work, set: GatewaySet): void {
  for (const key of hmKeys(set.users)) refreshRoute(w, key);
}

/** A gateway's health changed: its groups change (one op each); inline multipath routes change too. */
export function gatewayHealthChanged(w: Work, gateway: string): void {
  for (const setKey of hmKeys(hmGet(w.d.gatewaySets, gateway) ?? emptyHashMap<true>())) {
    const set = hmGet(w.d.sets, setKey);
    if (set === undefined || !set.probe || set.members.length < 2) continue;
    if (groupsMode(w)) placeObject(w, setKey);
    else refreshUsers(w, set);
  }
}

// ---- routes --------------------------------------------------------------------------

/**
 * Values that depend only on a claim (and its nexthop id, settings) are made once and
 * shared by every node state that holds them: claims are shared across nodes with the
 * same context (shared-contribution.ts), and a replay of 1,000 nodes otherwise kept
 * 1,000 equal copies of each desired route and contender list (scripts/bench/sim-scale.ts).
 * They are immutable, so sharing them is invisible; the WeakMaps go with the claims.
 */
const soleContender = new WeakMap<Claim, readonly Claim[]>();
const objectRoutes = new WeakMap<Claim, { settings: EngineSettings; id: number; route: KernelRoute }>();

function alone(claim: Claim): readonly Claim[] {
  let list = soleContender.get(claim);
  if (list === undefined) {
    list = [claim];
    soleContender.set(claim, list);
  }
  return list;
}

/** A claim's route through `target`, with kroute's metric and protocol. */
function claimRoute(w: Work, claim: Claim, target: KernelRoute["target"]): KernelRoute {
  return {
    family: claim.family,
    table: claim.table,
    dst: claim.dst,
    metric: w.settings.metric,
    protocol: w.settings.protocol,
    scope: 0,
    target,
  };
}

/** The route of a claim through nexthop object `id`. */
function objectRoute(w: Work, claim: Claim, id: number): KernelRoute {
  const last = objectRoutes.get(claim);
  if (last !== undefined && last.settings === w.settings && last.id === id) return last.route;
  const route = claimRoute(w, claim, { kind: "nexthop-object", id });
  objectRoutes.set(claim, { settings: w.settings, id, route });
  return route;
}

function buildRoute(w: Work, claim: Claim, set: GatewaySet): KernelRoute | undefined {
  if (groupsMode(w)) {
    const only = set.members.length === 1 ? set.members[0] : undefined;
    const id = hmGet(w.d.ids.byKey, only === undefined ? set.key : gatewayObjectKey(only));
    if (id === undefined || hmGet(w.d.nexthops, String(id)) === undefined) return undefined;
    return objectRoute(w, claim, id);
  }
  const nexthops = [...usableMembers(set, w.health).members]
    .sort((a, b) => compareAddresses(a.gateway, b.gateway))
    .map((m) => ({ gateway: m.gateway, dev: m.dev, weight: 1 }));
  return claimRoute(w, claim, { kind: "gateways", nexthops });
}

/** Recomputes the desired route of one key from its winning claim. */
function refreshRoute(w: Work, key: string): void {
  const winner = hmGet(w.d.contenders, key)?.[0];
  const previousSet = hmGet(w.d.using, key);
  if (previousSet !== winner?.set) {
    w.d.using = hmPut(w.d.using, key, winner?.set);
    if (winner !== undefined) useSet(w, winner.set, key);
    if (previousSet !== undefined) unuseSet(w, previousSet, key);
  }
  const set = winner === undefined ? undefined : hmGet(w.d.sets, winner.set);
  const route = winner === undefined || set === undefined ? undefined : buildRoute(w, winner, set);
  const before = hmGet(w.d.routes, key);
  if (before !== undefined && before === route) return;
  if (before !== undefined && route !== undefined && canonicalRoute(before) === canonicalRoute(route)) return;
  w.d.routes = hmPut(w.d.routes, key, route);
  touch(w, `r|${key}`);
}

function claimId(claim: Claim): string {
  // The pins and replies too: a claim that now waits for other protection is another claim (stages, status).
  const pins = claim.pins === undefined ? "" : `#${claim.pins.join(",")}`;
  return `${claim.rank}#${claim.key}#${claim.set}${pins}${claim.replies === true ? "#replies" : ""}`;
}

function addClaim(w: Work, claim: Claim): void {
  const others = hmGet(w.d.contenders, claim.key);
  const contenders =
    others === undefined
      ? alone(claim)
      : [...others, claim].sort((a, b) =>
          a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.set < b.set ? -1 : a.set > b.set ? 1 : 0,
        );
  w.d.contenders = hmSet(w.d.contenders, claim.key, contenders);
  if (contenders[0] === claim) refreshRoute(w, claim.key);
}

function removeClaim(w: Work, claim: Claim): void {
  const before = hmGet(w.d.contenders, claim.key) ?? [];
  const id = claimId(claim);
  // Claims are shared objects, so the contender is nearly always this very claim: the
  // identity test spares building the contenders' id strings (on every Route lost on a
  // label move).
  const isClaim = (c: Claim): boolean => c === claim || claimId(c) === id;
  const after = before.filter((c) => !isClaim(c));
  const remaining = after.length === 0 ? undefined : after.length === 1 ? alone(after[0] as Claim) : after;
  w.d.contenders = hmPut(w.d.contenders, claim.key, remaining);
  if (before[0] !== undefined && isClaim(before[0])) refreshRoute(w, claim.key);
}

function addRule(w: Work, rule: KernelRule, owner: string): void {
  const key = ruleKey(rule);
  const entry = hmGet(w.d.rules, key);
  const owners = [...new Set([...(entry?.owners ?? []), owner])].sort();
  w.d.rules = hmSet(w.d.rules, key, { rule: entry?.rule ?? rule, owners });
  touch(w, `u|${key}`);
}

function removeRule(w: Work, rule: KernelRule, owner: string): void {
  const key = ruleKey(rule);
  const owners = (hmGet(w.d.rules, key)?.owners ?? []).filter((o) => o !== owner);
  w.d.rules = hmPut(w.d.rules, key, owners.length === 0 ? undefined : { rule, owners });
  touch(w, `u|${key}`);
}

/** The most destinations this node programs (--max-destinations); absent, no cap. */
function capOf(w: Work): number {
  return w.settings.maxDestinations ?? Number.POSITIVE_INFINITY;
}

/** How many of a Route's destinations are admitted now: all, unless the cap leaves it fewer. */
function admittedOf(w: Work, contribution: Contribution): number {
  return hmGet(w.d.capped, contribution.name) ?? routableCount(contribution);
}

/** Replaces one Route's contribution (undefined removes it), touching only what differs (see setContributions). */
export function setContribution(w: Work, name: string, next: Contribution | undefined): void {
  // setContributions' common case without its lists: this runs for every Route event.
  const previous = hmGet(w.d.contributions, name);
  const wanted = w.d.destinationsWanted + routableCount(selectedOnly(next)) - routableCount(previous);
  if (wanted > capOf(w) || w.d.capped.size > 0) {
    setContributions(w, [[name, next]]);
    return;
  }
  w.d.destinationsWanted = wanted;
  replaceContribution(w, name, previous, routableCount(previous), next, routableCount(selectedOnly(next)));
}

/** A contribution as derive keeps it: only a selected Route's. */
function selectedOnly(contribution: Contribution | undefined): Contribution | undefined {
  return contribution?.selected === true ? contribution : undefined;
}

/**
 * Replaces the contributions of several Routes, each named once (undefined removes one).
 * While the node's Routes want no more destinations than --max-destinations, and did not
 * before, every one is admitted whole and this costs what the Routes touch. Over the
 * cap (or coming back under it) the admission is worked out again (admission.ts), once
 * for all of them (a label move flips many Routes at once), from the seniority order
 * kept while over it: the cost is a path of the order per Route changed, and the Routes
 * whose admission moves; the first event over the cap makes the order, O(Routes).
 */
export function setContributions(
  w: Work,
  changes: readonly (readonly [string, Contribution | undefined])[],
): void {
  const previousOf = new Map(changes.map(([name]) => [name, hmGet(w.d.contributions, name)]));
  for (const [name, next] of changes)
    w.d.destinationsWanted += routableCount(selectedOnly(next)) - routableCount(previousOf.get(name));
  if (w.d.destinationsWanted <= capOf(w) && w.d.capped.size === 0) {
    for (const [name, next] of changes) {
      const previous = previousOf.get(name);
      replaceContribution(
        w,
        name,
        previous,
        routableCount(previous),
        next,
        routableCount(selectedOnly(next)),
      );
    }
    return;
  }
  const cap = capOf(w);
  const cappedBefore = w.d.capped;
  const orderBefore = w.d.seniorityOrder ?? seniorityOrderOf(hmValues(w.d.contributions));
  let order = orderBefore;
  for (const [name, next] of changes) {
    const previous = previousOf.get(name);
    if (previous !== undefined && routableCount(previous) > 0) order = orderDelete(order, previous.seniority);
    const selected = selectedOnly(next);
    if (selected !== undefined && routableCount(selected) > 0)
      order = orderInsert(order, selected.seniority, name, routableCount(selected));
  }
  const cutBefore = cutOf(orderBefore, cap);
  const cutAfter = cutOf(order, cap);
  let capped = cappedBefore;
  for (const [name, next] of changes) {
    const selected = selectedOnly(next);
    const wanted = routableCount(selected);
    const admitted = selected === undefined ? 0 : admittedAt(cutAfter, selected.seniority, wanted);
    capped = hmPut(capped, name, admitted < wanted ? admitted : undefined);
  }
  // Every other Route whose admission moved lies between the two cuts (a missing cut is
  // past the last Route): those senior to both are whole and those junior to both have
  // none, before and after. Those losing destinations go first, so that what they free
  // (nexthop ids too) is free for those gaining them.
  const shifts: { route: Contribution; before: number; after: number }[] = [];
  const cuts = [cutBefore, cutAfter].flatMap((cut) => (cut === undefined ? [] : [cut.key])).sort();
  const [from, to] = cuts;
  if (from !== undefined) {
    orderVisit(order, from, to, ({ name, key, count }) => {
      if (previousOf.has(name)) return;
      const before = hmGet(cappedBefore, name) ?? count;
      const after = admittedAt(cutAfter, key, count);
      const route = hmGet(w.d.contributions, name);
      if (before === after || route === undefined) return;
      capped = hmPut(capped, name, after < count ? after : undefined);
      shifts.push({ route, before, after });
    });
  }
  w.d.capped = capped;
  // Kept only while over the cap: within it, Route events take the path above, which keeps no order.
  w.d.seniorityOrder = cutAfter === undefined ? null : order;
  const admitted = (map: HashMap<number>, contribution: Contribution | undefined): number =>
    contribution === undefined ? 0 : (hmGet(map, contribution.name) ?? routableCount(contribution));
  for (const s of shifts) if (s.after < s.before) replaceAdmitted(w, s.route, s.before, s.route, s.after);
  for (const [name, next] of changes) {
    const previous = previousOf.get(name);
    const selected = selectedOnly(next);
    replaceContribution(
      w,
      name,
      previous,
      admitted(cappedBefore, previous),
      next,
      admitted(capped, selected),
    );
  }
  for (const s of shifts) if (s.after > s.before) replaceAdmitted(w, s.route, s.before, s.route, s.after);
}

/** One Route's contribution replaced, `before` and `after` of its destinations admitted. */
function replaceContribution(
  w: Work,
  name: string,
  previous: Contribution | undefined,
  before: number,
  next: Contribution | undefined,
  after: number,
): void {
  // Only selected Routes are kept: an unselected one contributes nothing, and most Routes
  // are unselected on most nodes (a node of one pool in ten: 4,500 of 5,000).
  w.d.contributions = hmPut(w.d.contributions, name, next?.selected === true ? next : undefined);
  replaceAdmitted(w, previous, before, next, after);
  for (const gateway of previous?.selected ? previous.gateways : []) {
    const count = (hmGet(w.d.gatewayUse, gateway) ?? 1) - 1;
    w.d.gatewayUse = hmPut(w.d.gatewayUse, gateway, count === 0 ? undefined : count);
  }
  for (const gateway of next?.selected ? next.gateways : []) {
    w.d.gatewayUse = hmSet(w.d.gatewayUse, gateway, (hmGet(w.d.gatewayUse, gateway) ?? 0) + 1);
  }
}

/** The claims and rules of a Route's admitted destinations, from `before` of the previous version to `after` of the next. */
function replaceAdmitted(
  w: Work,
  previous: Contribution | undefined,
  before: number,
  next: Contribution | undefined,
  after: number,
): void {
  const name = (next ?? previous)?.name ?? "";
  const claimsBefore = admittedClaims(previous, before);
  const claimsAfter = admittedClaims(next, after);
  // Selection changes (a Route gained or lost on a label move) leave one side empty: no sets to build.
  if (claimsBefore.length === 0 || claimsAfter.length === 0) {
    for (const claim of claimsBefore) removeClaim(w, claim);
    for (const claim of claimsAfter) addClaim(w, claim);
  } else if (claimsBefore !== claimsAfter) {
    const nextClaims = new Set(claimsAfter.map(claimId));
    const previousClaims = new Set(claimsBefore.map(claimId));
    for (const claim of claimsBefore) if (!nextClaims.has(claimId(claim))) removeClaim(w, claim);
    for (const claim of claimsAfter) if (!previousClaims.has(claimId(claim))) addClaim(w, claim);
  }
  const rulesBefore = admittedRules(previous, before);
  const rulesAfter = admittedRules(next, after);
  if (rulesBefore === rulesAfter) return;
  const nextRules = new Set(rulesAfter.map(ruleKey));
  const previousRules = new Set(rulesBefore.map(ruleKey));
  for (const rule of rulesBefore) if (!nextRules.has(ruleKey(rule))) removeRule(w, rule, name);
  for (const rule of rulesAfter) if (!previousRules.has(ruleKey(rule))) addRule(w, rule, name);
}

/** Derived state built from scratch from every contribution (sorted, so the result is order-free). */
export function rebuild(w: Work, contributions: readonly Contribution[]): void {
  const empty = w.d;
  empty.contributions = emptyHashMap();
  empty.contenders = emptyHashMap();
  empty.routes = emptyHashMap();
  empty.using = emptyHashMap();
  empty.sets = emptyHashMap();
  empty.gatewaySets = emptyHashMap();
  empty.gatewayUse = emptyHashMap();
  empty.gatewayRefs = emptyHashMap();
  // Others' ids first, so that the layout is sorted insertion around them (nexthop-ids.ts).
  empty.ids = { ...emptyNexthopIds(), others: w.kernel.othersIds };
  empty.placed = emptyHashMap();
  empty.starved = emptyHashMap();
  empty.nexthops = emptyHashMap();
  empty.rules = emptyHashMap();
  const selected = contributions
    .filter((c) => c.selected)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Admission worked out once for all of them, not again at each Route past the cap.
  empty.destinationsWanted = selected.reduce((sum, c) => sum + routableCount(c), 0);
  empty.seniorityOrder = empty.destinationsWanted > capOf(w) ? seniorityOrderOf(selected) : null;
  empty.capped = admission(empty.seniorityOrder, capOf(w));
  w.deferTouch = true;
  for (const contribution of selected)
    replaceContribution(w, contribution.name, undefined, 0, contribution, admittedOf(w, contribution));
  w.deferTouch = false;
  touchAll(w);
}
