/** KernelRule ↔ fib_rule_hdr. kroute's rules are all "lookup TABLE" (FR_ACT_TO_TBL). */
import type { KernelRule } from "@kroute/core";
import { afOf, bytesToPrefix, familyOfAf, prefixBytes } from "../address.ts";
import { FR_ACT_TO_TBL, RT_TABLE_UNSPEC } from "../codec/constants.ts";
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
  };
}

/** A dumped rule; undefined for actions other than "lookup" and for rules matching on more than kroute models. */
export function messageToRule(m: RuleMessage): KernelRule | undefined {
  const family = familyOfAf(m.family);
  if (family === undefined || m.action !== FR_ACT_TO_TBL) return undefined;
  if (m.iifname !== undefined || m.oifname !== undefined || m.fwmark !== undefined || m.tos !== 0)
    return undefined;
  const rule: KernelRule = {
    family,
    priority: m.priority ?? 0,
    table: m.tableId ?? m.table,
    protocol: m.protocol ?? 0,
    ...(m.src !== undefined || m.srcLen > 0 ? { src: bytesToPrefix(family, m.src, m.srcLen) } : {}),
    ...(m.dst !== undefined || m.dstLen > 0 ? { dst: bytesToPrefix(family, m.dst, m.dstLen) } : {}),
  };
  return rule;
}
