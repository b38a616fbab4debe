/**
 * Policy rules. Linux has no replace for rules: a rule is added (EEXIST when an
 * identical one, protocol included, exists) or deleted (ENOENT when none matches).
 * Rules are kept in priority order, a new rule after existing ones of equal priority.
 */
import { type Family, familyOf, type KernelRule, type OpResult, parsePrefix, ruleKey } from "@kroute/core";
import { type KernelError, kernelError, OK } from "./errno.ts";
import { type KernelState, RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN, RTPROT_KERNEL } from "./state.ts";

/** The rules every Linux namespace starts with (IPv6 has no `default` table rule). */
export function defaultRules(): KernelRule[] {
  const rule = (family: Family, priority: number, table: number): KernelRule => ({
    family,
    priority,
    table,
    protocol: RTPROT_KERNEL,
  });
  return [
    rule(4, 0, RT_TABLE_LOCAL),
    rule(4, 32766, RT_TABLE_MAIN),
    rule(4, 32767, RT_TABLE_DEFAULT),
    rule(6, 0, RT_TABLE_LOCAL),
    rule(6, 32766, RT_TABLE_MAIN),
  ];
}

function validateRule(rule: KernelRule): KernelError | undefined {
  for (const prefix of [rule.src, rule.dst]) {
    if (prefix === undefined) continue;
    const parsed = parsePrefix(prefix);
    if (!parsed.ok || parsed.value !== prefix || familyOf(prefix) !== rule.family)
      return kernelError("EINVAL");
  }
  if (!Number.isInteger(rule.priority) || rule.priority < 0 || rule.priority > 0xffffffff) {
    return kernelError("EINVAL");
  }
  if (!Number.isInteger(rule.table) || rule.table < 0 || rule.table > 0xffffffff)
    return kernelError("EINVAL");
  return undefined;
}

export function addRule(state: KernelState, rule: KernelRule): OpResult {
  const error = validateRule(rule);
  if (error !== undefined) return error;
  const key = ruleKey(rule);
  if (state.rules.some((existing) => ruleKey(existing) === key)) return kernelError("EEXIST");
  const at = state.rules.findIndex((existing) => existing.priority > rule.priority);
  state.rules.splice(at < 0 ? state.rules.length : at, 0, rule);
  state.emit({ kind: "rule", action: "new", rule });
  return OK;
}

export function deleteRule(state: KernelState, rule: KernelRule): OpResult {
  const key = ruleKey(rule);
  const at = state.rules.findIndex((existing) => ruleKey(existing) === key);
  const existing = state.rules[at];
  if (existing === undefined) return kernelError("ENOENT");
  state.rules.splice(at, 1);
  state.emit({ kind: "rule", action: "del", rule: existing });
  return OK;
}
