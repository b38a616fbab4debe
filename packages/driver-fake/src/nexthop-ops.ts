/**
 * Nexthop objects (`ip nexthop`), with the kernel's checks and side effects:
 * a gateway nexthop needs a device and an on-link gateway; a group holds existing
 * single nexthops only, fdb ones or none of those; deleting a nexthop shrinks the groups holding it (a group
 * left empty goes too) and removes every route using what went. Messages are the
 * kernel's extack texts.
 */
import { familyOf, type KernelNexthop, type KernelRoute, type OpResult } from "@kroute/core";
import { type KernelError, kernelError, OK } from "./errno.ts";
import { checkDevice, checkGateway } from "./onlink.ts";
import { createBucketTable, rebalance } from "./resilient-buckets.ts";
import { dropRoute, forgetGatewayVerdicts, type KernelState, observedRoute, RT_TABLE_MAIN } from "./state.ts";

function isNexthopId(id: number): boolean {
  return Number.isInteger(id) && id > 0 && id <= 0xffffffff;
}

function validateGroup(
  state: KernelState,
  group: Extract<KernelNexthop, { kind: "group" }>,
): KernelError | undefined {
  if (group.members.length === 0) return kernelError("EINVAL", "Invalid length for nexthop group attribute");
  const seen = new Set<number>();
  for (const member of group.members) {
    const nexthop = state.nexthops.get(member.id);
    if (nexthop === undefined || member.id === group.id) return kernelError("EINVAL", "Invalid nexthop id");
    if (seen.has(member.id)) return kernelError("EINVAL", "Nexthop id can not be used twice in a group");
    seen.add(member.id);
    if (!Number.isInteger(member.weight) || member.weight < 1 || member.weight > 256) {
      return kernelError("EINVAL", "Invalid value for weight");
    }
    if (nexthop.kind === "group") {
      return kernelError(
        "EINVAL",
        nexthop.groupType === "mpath"
          ? "Hash-threshold group can not be a nexthop within a group"
          : "Resilient group can not be a nexthop within a group",
      );
    }
    if (isBlackhole(nexthop) && group.members.length > 1) {
      return kernelError("EINVAL", "Blackhole nexthop can not be used in a group with more than 1 path");
    }
    // Linux keeps a VXLAN's fdb nexthops and routing nexthops in separate groups.
    if (group.fdb === true && !isFdb(nexthop)) {
      return kernelError("EINVAL", "FDB nexthop group can only have fdb nexthops");
    }
    if (group.fdb !== true && isFdb(nexthop)) {
      return kernelError("EINVAL", "Non FDB nexthop group cannot have fdb nexthops");
    }
  }
  if (group.groupType === "resilient") {
    if (!state.features.resilientGroups) return kernelError("EINVAL", "Unknown attribute");
    const params = group.resilient;
    if (params === undefined) return kernelError("EINVAL", "Resilient group requires NHA_RES_GROUP");
    if (!Number.isInteger(params.buckets) || params.buckets < 1 || params.buckets > 0xffff) {
      return kernelError("EINVAL", "Invalid number of buckets");
    }
    if (params.idleTimer < 0 || params.unbalancedTimer < 0) return kernelError("EINVAL");
  }
  return undefined;
}

function validateNexthop(state: KernelState, nexthop: KernelNexthop): KernelError | undefined {
  if (!state.features.nexthopObjects) return kernelError("EOPNOTSUPP");
  if (!isNexthopId(nexthop.id)) return kernelError("EINVAL", "Invalid nexthop id");
  if (!Number.isInteger(nexthop.protocol) || nexthop.protocol < 0 || nexthop.protocol > 255) {
    return kernelError("EINVAL");
  }
  if (nexthop.kind === "group") return validateGroup(state, nexthop);
  // Other programs' blackhole, device-only and fdb nexthops are modelled, so that kroute
  // meets them at its ids; kroute writes none.
  if (nexthop.kind === "opaque") return validateOpaque(state, nexthop);
  if (familyOf(nexthop.gateway) !== nexthop.family) return kernelError("EINVAL");
  return checkGateway(state, RT_TABLE_MAIN, nexthop.gateway, nexthop.dev, "nexthop");
}

function validateOpaque(
  state: KernelState,
  nexthop: Extract<KernelNexthop, { kind: "opaque" }>,
): KernelError | undefined {
  switch (nexthop.type) {
    case "blackhole":
      if (nexthop.dev !== undefined)
        return kernelError("EINVAL", "Blackhole attribute can not be used with gateway or oif");
      // Linux hangs a blackhole nexthop on the loopback device.
      return state.links.get("lo")?.up === true
        ? undefined
        : kernelError("ENETDOWN", "Device for nexthop is not up");
    case "fdb":
      // An fdb nexthop (a VXLAN remote) leaves through no device: no link state touches it.
      return nexthop.dev === undefined
        ? undefined
        : kernelError("EINVAL", "Fdb attribute can not be used with encap, oif or blackhole");
    case "device":
      // Held to a gateway nexthop's rules on its device: up, with carrier.
      return checkDevice(state, nexthop.dev ?? "", "nexthop", 4);
  }
}

function isBlackhole(nexthop: KernelNexthop | undefined): boolean {
  return nexthop?.kind === "opaque" && nexthop.type === "blackhole";
}

/** An fdb nexthop or group of them: a route may not use one. */
export function isFdb(nexthop: KernelNexthop | undefined): boolean {
  if (nexthop?.kind === "opaque") return nexthop.type === "fdb";
  return nexthop?.kind === "group" && nexthop.fdb === true;
}

/** Members sorted by id, as the contract and the kernel's dumps have them. */
function normalised(nexthop: KernelNexthop): KernelNexthop {
  if (nexthop.kind !== "group") return nexthop;
  return { ...nexthop, members: [...nexthop.members].sort((a, b) => a.id - b.id) };
}

function store(state: KernelState, nexthop: KernelNexthop): void {
  state.nexthops.set(nexthop.id, nexthop);
  // The IPv6 gateway check looks at the devices routes through nexthop objects leave by.
  forgetGatewayVerdicts(state, 6);
  if (nexthop.kind === "group" && nexthop.groupType === "resilient" && nexthop.resilient !== undefined) {
    const table = state.buckets.get(nexthop.id);
    if (table === undefined) {
      state.buckets.set(nexthop.id, createBucketTable(nexthop.members, nexthop.resilient, state.now));
    } else {
      rebalance(table, nexthop.members, nexthop.resilient, state.now);
    }
  } else {
    state.buckets.delete(nexthop.id);
  }
}

/** Routes pointing at a nexthop, directly or through a group holding it. */
function routesUsing(state: KernelState, ids: ReadonlySet<number>): KernelRoute[] {
  const routes: KernelRoute[] = [];
  for (const id of ids) routes.push(...(state.byNexthop.get(id) ?? []));
  return routes;
}

export function addNexthop(state: KernelState, nexthop: KernelNexthop): OpResult {
  // Linux creates (and so validates) the nexthop before it looks for the id.
  const error = validateNexthop(state, nexthop);
  if (error !== undefined) return error;
  if (state.nexthops.has(nexthop.id)) return kernelError("EEXIST");
  const value = normalised(nexthop);
  store(state, value);
  state.emit({ kind: "nexthop", action: "new", nexthop: value });
  return OK;
}

export function replaceNexthop(state: KernelState, nexthop: KernelNexthop): OpResult {
  const old = state.nexthops.get(nexthop.id);
  if (old === undefined) return addNexthop(state, nexthop);
  if (old.kind !== "group" && nexthop.kind === "group") {
    return kernelError("EINVAL", "Can not replace a nexthop with a nexthop group");
  }
  if (old.kind === "group" && nexthop.kind !== "group") {
    return kernelError("EINVAL", "Can not replace a nexthop group with a nexthop");
  }
  if (isFdb(old) !== isFdb(nexthop) && groupsHolding(state, nexthop.id).length > 0) {
    return kernelError("EINVAL", "Cannot change nexthop FDB status while in a group");
  }
  if (isBlackhole(nexthop) && groupsHolding(state, nexthop.id).some((id) => memberCount(state, id) > 1)) {
    return kernelError("EINVAL", "Blackhole nexthop can not be a member of a group with more than one path");
  }
  if (old.kind === "group" && nexthop.kind === "group") {
    if (old.groupType !== nexthop.groupType) {
      return kernelError("EINVAL", "Can not replace a nexthop group with one of a different type");
    }
    if (old.resilient !== undefined && nexthop.resilient?.buckets !== old.resilient.buckets) {
      return kernelError("EINVAL", "Can not change number of buckets of a resilient nexthop group");
    }
  }
  const error = validateNexthop(state, nexthop);
  if (error !== undefined) return error;
  if (leavesIpv6RouteOnIpv4(state, nexthop)) {
    return kernelError("EINVAL", "IPv6 routes can not use an IPv4 nexthop");
  }
  const value = normalised(nexthop);
  store(state, value);
  state.emit({ kind: "nexthop", action: "new", nexthop: value });
  // nexthop_compat_mode (on by default) re-announces every route using a replaced
  // nexthop, flagged NLM_F_REPLACE as Linux does.
  const affected = new Set([nexthop.id, ...groupsHolding(state, nexthop.id)]);
  for (const route of routesUsing(state, affected)) {
    state.emit({ kind: "route", action: "new", route: observedRoute(state, route), replaced: true });
  }
  return OK;
}

function hasIpv4(state: KernelState, nexthop: KernelNexthop): boolean {
  if (nexthop.kind === "gateway") return nexthop.family === 4;
  if (nexthop.kind === "opaque") return false;
  return nexthop.members.some((member) => {
    const held = state.nexthops.get(member.id);
    return held?.kind === "gateway" && held.family === 4;
  });
}

/**
 * Linux checks a replace against the routes using the nexthop, directly or through the
 * groups holding it: an IPv4 route may use an IPv6 nexthop, not the reverse. A family
 * change is otherwise allowed, also inside a group.
 */
function leavesIpv6RouteOnIpv4(state: KernelState, nexthop: KernelNexthop): boolean {
  if (!hasIpv4(state, nexthop)) return false;
  const affected = new Set([nexthop.id, ...groupsHolding(state, nexthop.id)]);
  return routesUsing(state, affected).some((route) => route.family === 6);
}

function groupsHolding(state: KernelState, id: number): number[] {
  const groups: number[] = [];
  for (const nexthop of state.nexthops.values()) {
    if (nexthop.kind === "group" && nexthop.members.some((member) => member.id === id))
      groups.push(nexthop.id);
  }
  return groups;
}

function memberCount(state: KernelState, id: number): number {
  const group = state.nexthops.get(id);
  return group?.kind === "group" ? group.members.length : 0;
}

/**
 * Removes nexthops with Linux's cascade. `announce` is false when the kernel flushes
 * them itself (link down, carrier loss, link deleted): it sends no RTM_DELNEXTHOP
 * nor group updates then, and IPv4 routes vanish silently in either case; only IPv6
 * route removals are announced (nexthop_compat_mode).
 */
export function removeNexthops(state: KernelState, ids: readonly number[], announce: boolean): void {
  const gone = new Set<number>();
  const queue = [...ids];
  while (queue.length > 0) {
    const id = queue.shift() as number;
    const nexthop = state.nexthops.get(id);
    if (nexthop === undefined || gone.has(id)) continue;
    state.nexthops.delete(id);
    state.buckets.delete(id);
    gone.add(id);
    if (announce) state.emit({ kind: "nexthop", action: "del", nexthop });
    for (const groupId of groupsHolding(state, id)) {
      const group = state.nexthops.get(groupId);
      if (group?.kind !== "group") continue;
      const members = group.members.filter((member) => member.id !== id);
      if (members.length === 0) {
        queue.push(groupId);
        continue;
      }
      const shrunk: KernelNexthop = { ...group, members };
      store(state, shrunk);
      if (announce) state.emit({ kind: "nexthop", action: "new", nexthop: shrunk });
    }
  }
  for (const route of routesUsing(state, gone)) dropRoute(state, route);
}

export function deleteNexthop(state: KernelState, nexthop: KernelNexthop): OpResult {
  if (!state.features.nexthopObjects) return kernelError("EOPNOTSUPP");
  if (!state.nexthops.has(nexthop.id)) return kernelError("ENOENT");
  removeNexthops(state, [nexthop.id], true);
  return OK;
}
