/**
 * Typed values read from the raw flags: each returns the fallback when the flag is
 * not set and fails with a SettingsError naming the flag when it is set but unusable.
 */
import { type Prefix, parseIp, parsePrefix } from "@kroute/core";
import type { FlagName, RawFlags } from "./flags.ts";
import { fail } from "./settings-error.ts";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function str(raw: RawFlags, flag: FlagName): string | undefined {
  const value = raw[flag];
  return typeof value === "string" ? value : undefined;
}

export function integer(raw: RawFlags, flag: FlagName, fallback: number, min: number, max: number): number {
  const text = str(raw, flag);
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text.trim())) fail(flag, text, `is not a whole number (${min}..${max})`);
  const value = Number(text.trim());
  if (value < min || value > max) fail(flag, text, `is out of range (${min}..${max})`);
  return value;
}

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go-style durations (`500ms`, `1s`, `1m30s`), so values read the same as in Kubernetes tooling. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (DURATION_UNITS[match[2] ?? ""] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

export function duration(
  raw: RawFlags,
  flag: FlagName,
  fallbackMs: number,
  minMs: number,
  maxMs: number,
): number {
  const text = str(raw, flag);
  if (text === undefined) return fallbackMs;
  const ms = parseDuration(text);
  if (ms === undefined) fail(flag, text, "is not a duration (e.g. 500ms, 2s, 5m)");
  if (ms < minMs || ms > maxMs) fail(flag, text, `is out of range (${minMs}ms..${maxMs}ms)`);
  return ms;
}

export function listenAddress(
  raw: RawFlags,
  flag: FlagName,
  fallback: ListenAddress,
  loopbackOnly: boolean,
): ListenAddress {
  const text = str(raw, flag);
  if (text === undefined) return fallback;
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  if (match === null) fail(flag, text, "is not HOST:PORT (e.g. 127.0.0.1:9465, [::1]:9465)");
  const host = match[1] ?? "";
  const port = Number(match[2]);
  if (port > 65535) fail(flag, text, "has a port out of range (0..65535; 0 = any free port)");
  const ip = parseIp(host);
  if (!ip.ok) fail(flag, text, "must name an IP address, not a host name");
  if (loopbackOnly && !(ip.value.startsWith("127.") || ip.value === "::1")) {
    fail(flag, text, "must be a loopback address (127.0.0.0/8 or ::1)");
  }
  return { host: ip.value, port };
}

export function oneOf<T extends string>(
  raw: RawFlags,
  flag: FlagName,
  choices: readonly T[],
  fallback: T,
): T {
  const text = str(raw, flag);
  if (text === undefined) return fallback;
  const found = choices.find((choice) => choice === text.trim());
  if (found === undefined) fail(flag, text, `is not one of ${choices.join(", ")}`);
  return found;
}

export function prefixList(raw: RawFlags, flag: "protect" | "keep-original"): Prefix[] {
  const values = raw[flag];
  const list = Array.isArray(values) ? values : [];
  return list.map((text) => {
    const parsed = parsePrefix(text);
    if (!parsed.ok) fail(flag, text, `is not a CIDR: ${parsed.error}`);
    if (parsed.warning !== undefined) fail(flag, text, `has host bits set (did you mean ${parsed.value}?)`);
    return parsed.value;
  });
}

/** A named network namespace (/var/run/netns/NAME): a plain file name, as `ip netns` takes. */
export function netnsName(raw: RawFlags): string | undefined {
  const netns = str(raw, "netns");
  if (netns !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(netns)) {
    fail("netns", netns, "is not a network namespace name (letters, digits, _ . -)");
  }
  return netns;
}
