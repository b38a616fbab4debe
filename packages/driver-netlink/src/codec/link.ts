/**
 * Links and addresses. RTM_*LINK: struct ifinfomsg `{u8 family, u8 pad, u16 type,
 * i32 index, u32 flags, u32 change}` then IFLA_*. RTM_*ADDR: struct ifaddrmsg
 * `{u8 family, u8 prefixlen, u8 flags, u8 scope, u32 index}` then IFA_*.
 */
import { AttrCheck, decodeAttrs } from "./attrs.ts";
import { type Decoded, decodeError, Reader, type Writer } from "./bytes.ts";
import { IFA_ADDRESS, IFA_LABEL, IFA_LOCAL, IFLA_IFNAME, IFLA_MASTER, IFLA_MTU } from "./constants.ts";

export interface LinkMessage {
  readonly family: number;
  readonly type: number;
  readonly index: number;
  readonly flags: number;
  readonly change: number;
  readonly name?: string;
  readonly mtu?: number;
  readonly master?: number;
}

export interface AddressMessage {
  readonly family: number;
  readonly prefixLen: number;
  readonly flags: number;
  readonly scope: number;
  readonly index: number;
  readonly address?: Uint8Array;
  readonly local?: Uint8Array;
  readonly label?: string;
}

export const IFINFOMSG_LEN = 16;
export const IFADDRMSG_LEN = 8;

export function encodeLink(w: Writer, m: LinkMessage): void {
  w.u8(m.family);
  w.u8(0);
  w.u16(m.type);
  w.i32(m.index);
  w.u32(m.flags);
  w.u32(m.change);
  if (m.name !== undefined) w.attrString(IFLA_IFNAME, m.name);
  if (m.mtu !== undefined) w.attrU32(IFLA_MTU, m.mtu);
  if (m.master !== undefined) w.attrU32(IFLA_MASTER, m.master);
}

export function decodeLink(payload: Uint8Array, base: number): Decoded<LinkMessage> {
  const reader = new Reader(payload);
  if (!reader.has(0, IFINFOMSG_LEN)) {
    return decodeError(`ifinfomsg needs ${IFINFOMSG_LEN} bytes, got ${payload.length}`, base);
  }
  const attrs = decodeAttrs(payload.subarray(IFINFOMSG_LEN), base + IFINFOMSG_LEN);
  if (!attrs.ok) return attrs;
  const check = new AttrCheck();
  const m: { -readonly [K in keyof LinkMessage]: LinkMessage[K] } = {
    family: reader.u8(0),
    type: reader.u16(2),
    index: reader.i32(4),
    flags: reader.u32(8),
    change: reader.u32(12),
  };
  for (const attr of attrs.value) {
    if (attr.type === IFLA_IFNAME) m.name = check.string(attr);
    else if (attr.type === IFLA_MTU) m.mtu = check.u32(attr, "IFLA_MTU");
    else if (attr.type === IFLA_MASTER) m.master = check.u32(attr, "IFLA_MASTER");
  }
  return check.result<LinkMessage>(m);
}

export function encodeAddress(w: Writer, m: AddressMessage): void {
  w.u8(m.family);
  w.u8(m.prefixLen);
  w.u8(m.flags);
  w.u8(m.scope);
  w.u32(m.index);
  if (m.address !== undefined) w.attrBytes(IFA_ADDRESS, m.address);
  if (m.local !== undefined) w.attrBytes(IFA_LOCAL, m.local);
  if (m.label !== undefined) w.attrString(IFA_LABEL, m.label);
}

export function decodeAddress(payload: Uint8Array, base: number): Decoded<AddressMessage> {
  const reader = new Reader(payload);
  if (!reader.has(0, IFADDRMSG_LEN)) {
    return decodeError(`ifaddrmsg needs ${IFADDRMSG_LEN} bytes, got ${payload.length}`, base);
  }
  const attrs = decodeAttrs(payload.subarray(IFADDRMSG_LEN), base + IFADDRMSG_LEN);
  if (!attrs.ok) return attrs;
  const check = new AttrCheck();
  const m: { -readonly [K in keyof AddressMessage]: AddressMessage[K] } = {
    family: reader.u8(0),
    prefixLen: reader.u8(1),
    flags: reader.u8(2),
    scope: reader.u8(3),
    index: reader.u32(4),
  };
  for (const attr of attrs.value) {
    if (attr.type === IFA_ADDRESS) m.address = check.address(attr, "IFA_ADDRESS");
    else if (attr.type === IFA_LOCAL) m.local = check.address(attr, "IFA_LOCAL");
    else if (attr.type === IFA_LABEL) m.label = check.string(attr);
  }
  return check.result<AddressMessage>(m);
}
