/**
 * RTM_NEWRULE / DELRULE / GETRULE: struct fib_rule_hdr `{u8 family, u8 dst_len,
 * u8 src_len, u8 tos, u8 table, u8 res1, u8 res2, u8 action, u32 flags}` then FRA_*.
 */
import { AttrCheck, decodeAttrs } from "./attrs.ts";
import { type Decoded, decodeError, Reader, type Writer } from "./bytes.ts";
import {
  FRA_DST,
  FRA_FWMARK,
  FRA_IIFNAME,
  FRA_OIFNAME,
  FRA_PAD,
  FRA_PRIORITY,
  FRA_PROTOCOL,
  FRA_SRC,
  FRA_SUPPRESS_IFGROUP,
  FRA_SUPPRESS_PREFIXLEN,
  FRA_TABLE,
} from "./constants.ts";

export interface RuleMessage {
  readonly family: number;
  readonly dstLen: number;
  readonly srcLen: number;
  readonly tos: number;
  readonly table: number;
  readonly action: number;
  readonly flags: number;
  readonly dst?: Uint8Array;
  readonly src?: Uint8Array;
  readonly priority?: number;
  readonly tableId?: number;
  readonly protocol?: number;
  readonly iifname?: string;
  readonly oifname?: string;
  readonly fwmark?: number;
  /** FRA_SUPPRESS_PREFIXLEN when the rule suppresses (the kernel dumps -1 when it does not). */
  readonly suppressPrefixLength?: number;
  /** Types of the attributes decoded past those above (uidrange, ipproto, ports, goto…): decode only. */
  readonly otherAttrTypes?: readonly number[];
}

export const FIB_RULE_HDR_LEN = 12;
const NO_SUPPRESSION = 0xffffffff;

export function encodeRule(w: Writer, m: RuleMessage): void {
  w.u8(m.family);
  w.u8(m.dstLen);
  w.u8(m.srcLen);
  w.u8(m.tos);
  w.u8(m.table);
  w.u8(0);
  w.u8(0);
  w.u8(m.action);
  w.u32(m.flags);
  if (m.tableId !== undefined) w.attrU32(FRA_TABLE, m.tableId);
  if (m.priority !== undefined) w.attrU32(FRA_PRIORITY, m.priority);
  if (m.dst !== undefined) w.attrBytes(FRA_DST, m.dst);
  if (m.src !== undefined) w.attrBytes(FRA_SRC, m.src);
  if (m.protocol !== undefined) w.attrU8(FRA_PROTOCOL, m.protocol);
  if (m.iifname !== undefined) w.attrString(FRA_IIFNAME, m.iifname);
  if (m.oifname !== undefined) w.attrString(FRA_OIFNAME, m.oifname);
  if (m.fwmark !== undefined) w.attrU32(FRA_FWMARK, m.fwmark);
  if (m.suppressPrefixLength !== undefined) w.attrU32(FRA_SUPPRESS_PREFIXLEN, m.suppressPrefixLength);
}

export function decodeRule(payload: Uint8Array, base: number): Decoded<RuleMessage> {
  const reader = new Reader(payload);
  if (!reader.has(0, FIB_RULE_HDR_LEN)) {
    return decodeError(`fib_rule_hdr needs ${FIB_RULE_HDR_LEN} bytes, got ${payload.length}`, base);
  }
  const attrs = decodeAttrs(payload.subarray(FIB_RULE_HDR_LEN), base + FIB_RULE_HDR_LEN);
  if (!attrs.ok) return attrs;
  const check = new AttrCheck();
  const m: { -readonly [K in keyof RuleMessage]: RuleMessage[K] } = {
    family: reader.u8(0),
    dstLen: reader.u8(1),
    srcLen: reader.u8(2),
    tos: reader.u8(3),
    table: reader.u8(4),
    action: reader.u8(7),
    flags: reader.u32(8),
  };
  for (const attr of attrs.value) {
    switch (attr.type) {
      case FRA_TABLE:
        m.tableId = check.u32(attr, "FRA_TABLE");
        break;
      case FRA_PRIORITY:
        m.priority = check.u32(attr, "FRA_PRIORITY");
        break;
      case FRA_DST:
        m.dst = check.address(attr, "FRA_DST");
        break;
      case FRA_SRC:
        m.src = check.address(attr, "FRA_SRC");
        break;
      case FRA_PROTOCOL:
        m.protocol = check.u8(attr, "FRA_PROTOCOL");
        break;
      case FRA_IIFNAME:
        m.iifname = check.string(attr);
        break;
      case FRA_OIFNAME:
        m.oifname = check.string(attr);
        break;
      case FRA_FWMARK:
        m.fwmark = check.u32(attr, "FRA_FWMARK");
        break;
      case FRA_PAD:
        break;
      // Both dumped for every rule by recent kernels, as -1 when the rule does not suppress.
      case FRA_SUPPRESS_PREFIXLEN: {
        const length = check.u32(attr, "FRA_SUPPRESS_PREFIXLEN");
        if (length !== NO_SUPPRESSION) m.suppressPrefixLength = length;
        break;
      }
      case FRA_SUPPRESS_IFGROUP:
        if (check.u32(attr, "FRA_SUPPRESS_IFGROUP") !== NO_SUPPRESSION) {
          m.otherAttrTypes = [...(m.otherAttrTypes ?? []), attr.type];
        }
        break;
      default:
        m.otherAttrTypes = [...(m.otherAttrTypes ?? []), attr.type];
        break;
    }
  }
  return check.result<RuleMessage>(m);
}
