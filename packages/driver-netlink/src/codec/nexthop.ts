/**
 * RTM_NEWNEXTHOP / DELNEXTHOP / GETNEXTHOP: struct nhmsg `{u8 family, u8 scope,
 * u8 protocol, u8 resvd, u32 flags}` then NHA_*. A group is NHA_GROUP, an array of
 * struct nexthop_grp `{u32 id, u8 weight-1, u8 weight_high, u16 resvd}`; a resilient
 * group adds NHA_RES_GROUP (nested; timers in clock_t, 1/100 s).
 */
import { AttrCheck, decodeAttrs } from "./attrs.ts";
import { type Decoded, decodeError, Reader, type Writer } from "./bytes.ts";
import {
  NHA_BLACKHOLE,
  NHA_FDB,
  NHA_GATEWAY,
  NHA_GROUP,
  NHA_GROUP_TYPE,
  NHA_GROUPS,
  NHA_ID,
  NHA_OIF,
  NHA_RES_GROUP,
  NHA_RES_GROUP_BUCKETS,
  NHA_RES_GROUP_IDLE_TIMER,
  NHA_RES_GROUP_UNBALANCED_TIME,
  NHA_RES_GROUP_UNBALANCED_TIMER,
} from "./constants.ts";

export interface NexthopGroupEntry {
  readonly id: number;
  /** The real weight, 1..256 (the wire holds weight - 1). */
  readonly weight: number;
}

export interface ResilientGroupAttrs {
  readonly buckets?: number;
  /** clock_t (1/100 s). */
  readonly idleTimer?: number;
  readonly unbalancedTimer?: number;
  /** Read-only: how long the group has been unbalanced. */
  readonly unbalancedTime?: number;
}

export interface NexthopMessage {
  readonly family: number;
  readonly scope: number;
  readonly protocol: number;
  readonly flags: number;
  readonly id?: number;
  readonly group?: readonly NexthopGroupEntry[];
  readonly groupType?: number;
  readonly blackhole?: true;
  readonly oif?: number;
  readonly gateway?: Uint8Array;
  readonly fdb?: true;
  /** In a dump request: only groups. */
  readonly groups?: true;
  readonly resGroup?: ResilientGroupAttrs;
}

export const NHMSG_LEN = 8;

export function encodeNexthop(w: Writer, m: NexthopMessage): void {
  w.u8(m.family);
  w.u8(m.scope);
  w.u8(m.protocol);
  w.u8(0);
  w.u32(m.flags);
  if (m.id !== undefined) w.attrU32(NHA_ID, m.id);
  if (m.group !== undefined) {
    const at = w.beginAttr(NHA_GROUP);
    for (const entry of m.group) {
      w.u32(entry.id);
      w.u8((entry.weight - 1) & 0xff);
      w.u8(((entry.weight - 1) >> 8) & 0xff);
      w.u16(0);
    }
    w.endAttr(at);
  }
  if (m.groupType !== undefined) w.attrU16(NHA_GROUP_TYPE, m.groupType);
  if (m.blackhole) w.attrFlag(NHA_BLACKHOLE);
  if (m.oif !== undefined) w.attrU32(NHA_OIF, m.oif);
  if (m.gateway !== undefined) w.attrBytes(NHA_GATEWAY, m.gateway);
  if (m.fdb) w.attrFlag(NHA_FDB);
  if (m.groups) w.attrFlag(NHA_GROUPS);
  if (m.resGroup !== undefined) {
    const at = w.beginNested(NHA_RES_GROUP);
    const r = m.resGroup;
    if (r.buckets !== undefined) w.attrU16(NHA_RES_GROUP_BUCKETS, r.buckets);
    if (r.idleTimer !== undefined) w.attrU32(NHA_RES_GROUP_IDLE_TIMER, r.idleTimer);
    if (r.unbalancedTimer !== undefined) w.attrU32(NHA_RES_GROUP_UNBALANCED_TIMER, r.unbalancedTimer);
    if (r.unbalancedTime !== undefined) w.attrU32(NHA_RES_GROUP_UNBALANCED_TIME, r.unbalancedTime);
    w.endAttr(at);
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function decodeNexthop(payload: Uint8Array, base: number): Decoded<NexthopMessage> {
  const reader = new Reader(payload);
  if (!reader.has(0, NHMSG_LEN))
    return decodeError(`nhmsg needs ${NHMSG_LEN} bytes, got ${payload.length}`, base);
  const attrs = decodeAttrs(payload.subarray(NHMSG_LEN), base + NHMSG_LEN);
  if (!attrs.ok) return attrs;
  const check = new AttrCheck();
  const m: Mutable<NexthopMessage> = {
    family: reader.u8(0),
    scope: reader.u8(1),
    protocol: reader.u8(2),
    flags: reader.u32(4),
  };
  for (const attr of attrs.value) {
    switch (attr.type) {
      case NHA_ID:
        m.id = check.u32(attr, "NHA_ID");
        break;
      case NHA_GROUP: {
        if (attr.data.byteLength % 8 !== 0) {
          check.report(`NHA_GROUP must be a multiple of 8 bytes, got ${attr.data.byteLength}`, attr.offset);
          break;
        }
        const r = new Reader(attr.data);
        const group: NexthopGroupEntry[] = [];
        for (let at = 0; at < r.length; at += 8) {
          group.push({ id: r.u32(at), weight: r.u8(at + 4) + (r.u8(at + 5) << 8) + 1 });
        }
        m.group = group;
        break;
      }
      case NHA_GROUP_TYPE:
        m.groupType = check.u16(attr, "NHA_GROUP_TYPE");
        break;
      case NHA_BLACKHOLE:
        m.blackhole = true;
        break;
      case NHA_OIF:
        m.oif = check.u32(attr, "NHA_OIF");
        break;
      case NHA_GATEWAY:
        m.gateway = check.address(attr, "NHA_GATEWAY");
        break;
      case NHA_FDB:
        m.fdb = true;
        break;
      case NHA_GROUPS:
        m.groups = true;
        break;
      case NHA_RES_GROUP: {
        const res: Mutable<ResilientGroupAttrs> = {};
        for (const inner of check.nested(attr)) {
          if (inner.type === NHA_RES_GROUP_BUCKETS) res.buckets = check.u16(inner, "NHA_RES_GROUP_BUCKETS");
          else if (inner.type === NHA_RES_GROUP_IDLE_TIMER)
            res.idleTimer = check.u32(inner, "NHA_RES_GROUP_IDLE_TIMER");
          else if (inner.type === NHA_RES_GROUP_UNBALANCED_TIMER)
            res.unbalancedTimer = check.u32(inner, "NHA_RES_GROUP_UNBALANCED_TIMER");
          else if (inner.type === NHA_RES_GROUP_UNBALANCED_TIME)
            res.unbalancedTime = check.u32(inner, "NHA_RES_GROUP_UNBALANCED_TIME");
        }
        m.resGroup = res;
        break;
      }
      default:
        break;
    }
  }
  return check.result<NexthopMessage>(m);
}
