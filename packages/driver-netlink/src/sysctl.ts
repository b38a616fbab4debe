/**
 * Per-namespace sysctls. /proc/sys/net shows the network namespace of the task
 * that opens the file, so for a named namespace the JS thread enters it (setns)
 * for the duration of one synchronous open+read or open+write and comes straight
 * back (see ffi.inNetns). No subprocess, no shared mount games.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Family, MultipathHashPolicy } from "@kroute/core";
import { inNetns } from "./ffi.ts";

function hashPolicyPath(family: Family): string {
  return `/proc/sys/net/ipv${family}/fib_multipath_hash_policy`;
}

export function readSysctl(netns: string | undefined, path: string): string {
  return inNetns(netns, () => readFileSync(path, "utf8")).trim();
}

export function writeSysctl(netns: string | undefined, path: string, value: string): void {
  inNetns(netns, () => writeFileSync(path, `${value}\n`));
}

/**
 * /proc/sys path of a per-namespace sysctl named as `sysctl` names it. Only net.*
 * sysctls are per network namespace; anything else is refused, naming it.
 */
export function netSysctlPath(name: string): string {
  if (!/^net(\.[A-Za-z0-9_-]+)+$/.test(name)) {
    throw new Error(
      `sysctl name must be a net.* sysctl like net.ipv4.nexthop_compat_mode: ${JSON.stringify(name)}`,
    );
  }
  return `/proc/sys/${name.replaceAll(".", "/")}`;
}

export function getMultipathHashPolicy(netns: string | undefined, family: Family): MultipathHashPolicy {
  const text = readSysctl(netns, hashPolicyPath(family));
  const value = Number(text);
  if (value !== 0 && value !== 1 && value !== 2) {
    throw new Error(
      `net.ipv${family}.fib_multipath_hash_policy is ${JSON.stringify(text)}, kroute knows 0, 1 and 2`,
    );
  }
  return value;
}

export function setMultipathHashPolicy(
  netns: string | undefined,
  family: Family,
  policy: MultipathHashPolicy,
): void {
  if (family !== 4 && family !== 6) throw new Error(`family must be 4 or 6: ${JSON.stringify(family)}`);
  if (policy !== 0 && policy !== 1 && policy !== 2) {
    throw new Error(`multipath hash policy must be 0, 1 or 2: ${JSON.stringify(policy)}`);
  }
  writeSysctl(netns, hashPolicyPath(family), String(policy));
}
