/** KernelNexthop ↔ nhmsg. Resilient timers are seconds in kroute, clock_t (1/100 s) on the wire. */
import type { KernelNexthop, OpaqueNexthopType } from "@kroute/core";
import { afOf, bytesToIp, familyOfAf, ipToBytes } from "../address.ts";
import { NEXTHOP_GRP_TYPE_MPATH, NEXTHOP_GRP_TYPE_RES } from "../codec/constants.ts";
import type { NexthopMessage } from "../codec/nexthop.ts";
import { AF_INET, AF_INET6, AF_UNSPEC } from "../ffi.ts";
import type { LinkNames } from "./names.ts";
import { UnknownDeviceError } from "./routes.ts";

const USER_HZ = 100;

export function nexthopToMessage(nh: KernelNexthop, names: LinkNames): NexthopMessage {
  switch (nh.kind) {
    case "gateway": {
      const oif = oifOf(nh.dev, names);
      return {
        family: afOf(nh.family),
        scope: 0,
        protocol: nh.protocol,
        flags: 0,
        id: nh.id,
        gateway: ipToBytes(nh.gateway),
        oif,
      };
    }
    case "group": {
      const base: NexthopMessage = {
        family: AF_UNSPEC,
        scope: 0,
        protocol: nh.protocol,
        flags: 0,
        id: nh.id,
        group: nh.members.map((m) => ({ id: m.id, weight: m.weight })),
        ...(nh.fdb === true ? { fdb: true as const } : {}),
      };
      if (nh.groupType === "mpath") return { ...base, groupType: NEXTHOP_GRP_TYPE_MPATH };
      const r = nh.resilient;
      return {
        ...base,
        groupType: NEXTHOP_GRP_TYPE_RES,
        ...(r !== undefined
          ? {
              resGroup: {
                buckets: r.buckets,
                idleTimer: Math.round(r.idleTimer * USER_HZ),
                unbalancedTimer: Math.round(r.unbalancedTimer * USER_HZ),
              },
            }
          : {}),
      };
    }
    case "opaque":
      // kroute plans none; they are written for tests that play another program.
      return opaqueToMessage(nh, names);
  }
}

function opaqueToMessage(nh: KernelNexthop & { kind: "opaque" }, names: LinkNames): NexthopMessage {
  const base = { family: AF_INET, scope: 0, protocol: nh.protocol, flags: 0, id: nh.id };
  // A device is sent whatever the type: Linux refuses one on a blackhole or fdb nexthop,
  // and a device-only nexthop without one, saying why.
  const device = nh.dev === undefined ? {} : { oif: oifOf(nh.dev, names) };
  switch (nh.type) {
    case "blackhole":
      return { ...base, ...device, blackhole: true };
    // An fdb nexthop without a gateway, as `ip -4 nexthop add id N fdb` makes it.
    case "fdb":
      return { ...base, ...device, fdb: true };
    case "device":
      return { ...base, ...device };
  }
}

function oifOf(dev: string, names: LinkNames): number {
  const oif = names.indexOf(dev);
  if (oif === undefined) throw new UnknownDeviceError(dev);
  return oif;
}

/** RTM_DELNEXTHOP by id. */
export function nexthopKeyMessage(nh: KernelNexthop): NexthopMessage {
  return { family: AF_UNSPEC, scope: 0, protocol: 0, flags: 0, id: nh.id };
}

/**
 * A dumped nexthop. Blackhole, device-only and fdb nexthops are opaque, their id and
 * owner alone (and a device-only one's device, which takes it when it goes): kroute writes none, but one of another's at an id of kroute's range
 * holds that id (a route through it would be blackholed).
 */
export function messageToNexthop(m: NexthopMessage, names: LinkNames): KernelNexthop | undefined {
  if (m.id === undefined) return undefined;
  if (m.group !== undefined) {
    const fdb = m.fdb ? { fdb: true as const } : {};
    const members = [...m.group].sort((a, b) => a.id - b.id).map((g) => ({ id: g.id, weight: g.weight }));
    if (m.groupType === NEXTHOP_GRP_TYPE_RES) {
      const r = m.resGroup;
      return {
        kind: "group",
        id: m.id,
        protocol: m.protocol,
        members,
        groupType: "resilient",
        ...fdb,
        ...(r !== undefined
          ? {
              resilient: {
                buckets: r.buckets ?? 0,
                idleTimer: (r.idleTimer ?? 0) / USER_HZ,
                unbalancedTimer: (r.unbalancedTimer ?? 0) / USER_HZ,
              },
            }
          : {}),
      };
    }
    return { kind: "group", id: m.id, protocol: m.protocol, members, groupType: "mpath", ...fdb };
  }
  const opaque = (type: OpaqueNexthopType, device: { dev?: string } = {}): KernelNexthop => ({
    kind: "opaque",
    id: m.id as number,
    protocol: m.protocol,
    type,
    ...device,
  });
  if (m.blackhole) return opaque("blackhole");
  if (m.fdb) return opaque("fdb");
  const family = familyOfAf(m.family);
  if (m.gateway === undefined)
    return m.oif === undefined ? undefined : opaque("device", { dev: names.nameOf(m.oif) });
  if (family === undefined || m.oif === undefined) return undefined;
  return {
    kind: "gateway",
    id: m.id,
    family: m.family === AF_INET6 ? 6 : family,
    protocol: m.protocol,
    gateway: bytesToIp(m.gateway),
    dev: names.nameOf(m.oif),
  };
}
