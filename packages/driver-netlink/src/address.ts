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

export function ipToBytes(ip: IpAddr): Uint8Array {
  if (!ip.includes(":")) {
    // Fast path for canonical dotted quads: this runs once per route in big batches.
    const parts = ip.split(".");
    if (parts.length === 4) {
      const out = new Uint8Array(4);
      let valid = true;
      for (let i = 0; i < 4; i++) {
        const n = Number(parts[i]);
        if (!(n >= 0 && n <= 255) || !Number.isInteger(n) || parts[i] === "") valid = false;
        out[i] = n;
      }
      if (valid) return out;
    }
  }
  const parsed = addressBits(ip);
  if (parsed === undefined) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  if (parsed.family === 4) {
    const v = parsed.bits;
    return new Uint8Array([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
  }
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
  return { bytes: ipToBytes(prefixAddress(prefix)), length: prefixLength(prefix) };
}

/** A prefix from wire bytes and length; absent bytes mean the all-zero address. */
export function bytesToPrefix(family: Family, bytes: Uint8Array | undefined, length: number): Prefix {
  const ip = bytes === undefined ? (family === 4 ? "0.0.0.0" : "::") : bytesToIp(bytes);
  return `${ip}/${length}` as Prefix;
}
