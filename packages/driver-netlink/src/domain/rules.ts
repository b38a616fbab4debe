/** KernelRule ↔ fib_rule_hdr. kroute's rules are all "lookup TABLE" (FR_ACT_TO_TBL). */
import type { KernelRule } from "@kroute/core";
import { afOf, bytesToPrefix, familyOfAf, prefixBytes } from "../address.ts";
import { FIB_RULE_INVERT, FR_ACT_TO_TBL, RT_TABLE_UNSPEC } from "../codec/constants.ts";
import type { RuleMessage } from "../codec/rule.ts";

export function ruleToMessage(rule: KernelRule): RuleMessage {
  const src = rule.src !== undefined ? prefixBytes(rule.src) : undefined;
  const dst = rule.dst !== undefined ? prefixBytes(rule.dst) : undefined;
  return {
    family: afOf(rule.family),
    dstLen: dst?.length ?? 0,
    srcLen: src?.length ?? 0,
    tos: 0,
    table: rule.table < 256 ? rule.table : RT_TABLE_UNSPEC,
    action: FR_ACT_TO_TBL,
    flags: 0,
    tableId: rule.table,
    priority: rule.priority,
    protocol: rule.protocol,
    ...(src !== undefined ? { src: src.bytes } : {}),
    ...(dst !== undefined ? { dst: dst.bytes } : {}),
    ...(rule.suppressPrefixLength !== undefined ? { suppressPrefixLength: rule.suppressPrefixLength } : {}),
  };
}

/**
 * A dumped rule; undefined for actions other than "lookup" and for rules that match on
 * more than kroute models (an inverted match, devices, marks, tos, uid or port ranges,
 * interface-group suppression…); `suppress_prefixlength` it models.
 * Such a rule is not one kroute wrote, even with kroute's protocol: read as a plain
 * `from X lookup T` it would be taken for kroute's own rule, and a `not from X` rule
 * would pass for the `from X` rule kroute wants (the kernel then refuses kroute's add
 * with EEXIST, since it compares neither flags nor unset selectors: a loud failure
 * instead of silently wrong routing).
 */
export function messageToRule(m: RuleMessage): KernelRule | undefined {
  const family = familyOfAf(m.family);
  if (family === undefined || m.action !== FR_ACT_TO_TBL) return undefined;
  if ((m.flags & FIB_RULE_INVERT) !== 0 || (m.otherAttrTypes?.length ?? 0) > 0) return undefined;
  if (m.iifname !== undefined || m.oifname !== undefined || m.fwmark !== undefined || m.tos !== 0)
    return undefined;
  const rule: KernelRule = {
    family,
    priority: m.priority ?? 0,
    table: m.tableId ?? m.table,
    protocol: m.protocol ?? 0,
    ...(m.src !== undefined || m.srcLen > 0 ? { src: bytesToPrefix(family, m.src, m.srcLen) } : {}),
    ...(m.dst !== undefined || m.dstLen > 0 ? { dst: bytesToPrefix(family, m.dst, m.dstLen) } : {}),
    ...(m.suppressPrefixLength !== undefined ? { suppressPrefixLength: m.suppressPrefixLength } : {}),
  };
  return rule;
}
