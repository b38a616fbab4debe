/** IpAddr / Prefix strings ↔ the raw address bytes netlink carries (network order). */
import {
  addressBits,
  type Family,
  formatAddress,
  type IpAddr,
  type Prefix,
  prefixAddress,
  prefixLength,
} from "@kroute/core";

export const AF_INET = 2;
export const AF_INET6 = 10;

export function afOf(family: Family): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/** 4 or 6 for AF_INET / AF_INET6; undefined for anything else. */
export function familyOfAf(af: number): Family | undefined {
  if (af === AF_INET) return 4;
  if (af === AF_INET6) return 6;
  return undefined;
}

/**
 * Parses a dotted quad from `text[start, end)` by character codes, into its value as
 * an unsigned 32-bit number: this runs once or twice per route in 100,000-route
 * batches, where String.split costs more than the kernel's work. Undefined for
 * anything that is not exactly four 0..255 parts.
 */
export function v4Value(text: string, start: number, end: number): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      part = part * 10 + (c - 48);
      digits++;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return undefined;
  return value * 256 + part;
}

function v4Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  out[0] = value >>> 24;
  out[1] = (value >>> 16) & 255;
  out[2] = (value >>> 8) & 255;
  out[3] = value & 255;
  return out;
}

export function ipToBytes(ip: IpAddr): Uint8Array {
  const fast = v4Value(ip, 0, ip.length);
  if (fast !== undefined) return v4Bytes(fast);
  const parsed = addressBits(ip);
  if (parsed === undefined) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  if (parsed.family === 4) return v4Bytes(parsed.bits);
  const out = new Uint8Array(16);
  let v = parsed.bits;
  for (let i = 15; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export function bytesToIp(bytes: Uint8Array): IpAddr {
  if (bytes.length === 4) {
    const [a = 0, b = 0, c = 0, d = 0] = bytes;
    return formatAddress({ family: 4, bits: ((a << 24) | (b << 16) | (c << 8) | d) >>> 0 });
  }
  let v = 0n;
  for (const byte of bytes) v = (v << 8n) | BigInt(byte);
  return formatAddress({ family: 6, bits: v });
}

export function prefixBytes(prefix: Prefix): { readonly bytes: Uint8Array; readonly length: number } {
  const slash = prefix.indexOf("/");
  const fast = slash > 0 ? v4Value(prefix, 0, slash) : undefined;
  if (fast !== undefined) return { bytes: v4Bytes(fast), length: prefixLength(prefix) };
  return { bytes: ipToBytes(prefixAddress(prefix)), length: prefixLength(prefix) };
}

/** A prefix from wire bytes and length; absent bytes mean the all-zero address. */
export function bytesToPrefix(family: Family, bytes: Uint8Array | undefined, length: number): Prefix {
  const ip = bytes === undefined ? (family === 4 ? "0.0.0.0" : "::") : bytesToIp(bytes);
  return `${ip}/${length}` as Prefix;
}
