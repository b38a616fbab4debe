/**
 * IPv4 and IPv6 addresses and prefixes as branded, canonical strings.
 *
 * Parse once at the edge; inside the core every IpAddr and Prefix is valid and
 * canonical (IPv4 dotted quad, IPv6 in RFC 5952 form, prefixes masked), so plain
 * string equality is value equality and values serialise as themselves.
 */

export type Family = 4 | 6;
export type IpAddr = string & { readonly __brand: "IpAddr" };
export type Prefix = string & { readonly __brand: "Prefix" };

export type ParseResult<T> = { ok: true; value: T; warning?: string } | { ok: false; error: string };

const DOT = 46;
const ZERO = 48;
const NINE = 57;

/**
 * Four dot-separated decimal parts of 0..255 without leading zeros ("01" is refused).
 * Read character by character: splitting and a regular expression per part made
 * parsing a visible share of a replay (every op of a label move parses its prefix in
 * the fake kernel and in the override check); this is about six times faster.
 */
function parseV4(text: string): number | undefined {
  let value = 0;
  let parts = 0;
  let part = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : DOT;
    if (code === DOT) {
      if (digits === 0 || part > 255 || ++parts > 4) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else {
      if (code < ZERO || code > NINE || (digits > 0 && part === 0) || ++digits > 3) return undefined;
      part = part * 10 + (code - ZERO);
    }
  }
  return parts === 4 ? value : undefined;
}

function parseV6(text: string): bigint | undefined {
  if (text.includes("%")) return undefined; // zone ids are not routable addresses
  let head = text;
  let tailV4: number | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    tailV4 = parseV4(text.slice(lastColon + 1));
    if (tailV4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): string[] => (s === "" ? [] : s.split(":"));
  const left = groupsOf(halves[0] ?? "");
  const right = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...right];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(group, 16));
  }
  if (tailV4 !== undefined) value = (value & ~0xffffffffn) | BigInt(tailV4);
  return value;
}

function formatV4(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function formatV6(value: bigint): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (leftmost on ties) of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** A parsed address as a number: IPv4 in a JS number, IPv6 in a bigint. */
export type AddressBits = { family: 4; bits: number } | { family: 6; bits: bigint };

export function addressBits(text: string): AddressBits | undefined {
  if (text.includes(":")) {
    const bits = parseV6(text);
    return bits === undefined ? undefined : { family: 6, bits };
  }
  const bits = parseV4(text);
  return bits === undefined ? undefined : { family: 4, bits };
}

export function formatAddress(address: AddressBits): IpAddr {
  return (address.family === 4 ? formatV4(address.bits) : formatV6(address.bits)) as IpAddr;
}

export function parseIp(text: string): ParseResult<IpAddr> {
  const bits = typeof text === "string" ? addressBits(text.trim()) : undefined;
  if (bits === undefined) return { ok: false, error: `not an IPv4 or IPv6 address: ${JSON.stringify(text)}` };
  return { ok: true, value: formatAddress(bits) };
}

export function familyOf(value: IpAddr | Prefix): Family {
  return value.includes(":") ? 6 : 4;
}

export function maxPrefixLength(family: Family): number {
  return family === 4 ? 32 : 128;
}

function maskV4(bits: number, length: number): number {
  return length === 0 ? 0 : (bits & (0xffffffff << (32 - length))) >>> 0;
}

function maskV6(bits: bigint, length: number): bigint {
  const all = (1n << 128n) - 1n;
  return bits & (all ^ ((1n << BigInt(128 - length)) - 1n));
}

/** The network of `address` with a prefix of `length` bits (host bits cleared). */
export function maskedAddress(address: AddressBits, length: number): AddressBits {
  return address.family === 4
    ? { family: 4, bits: maskV4(address.bits, length) }
    : { family: 6, bits: maskV6(address.bits, length) };
}

/** The prefix of `length` bits that contains `address`, in canonical form. */
export function networkPrefix(address: AddressBits, length: number): Prefix {
  return `${formatAddress(maskedAddress(address, length))}/${length}` as Prefix;
}

/**
 * Parses a CIDR or a bare address (= a host prefix). Host bits are cleared, with a
 * warning naming the network the prefix was normalised to.
 */
export function parsePrefix(text: string): ParseResult<Prefix> {
  if (typeof text !== "string") return { ok: false, error: `not a CIDR: ${JSON.stringify(text)}` };
  const trimmed = text.trim();
  const slash = trimmed.indexOf("/");
  const addressText = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const address = addressBits(addressText);
  if (address === undefined) return { ok: false, error: `not an IPv4 or IPv6 CIDR: ${JSON.stringify(text)}` };
  const max = maxPrefixLength(address.family);
  const lengthText = slash < 0 ? String(max) : trimmed.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lengthText) || Number(lengthText) > max) {
    return { ok: false, error: `prefix length must be 0..${max}: ${JSON.stringify(text)}` };
  }
  const length = Number(lengthText);
  const masked = maskedAddress(address, length);
  const value = `${formatAddress(masked)}/${length}` as Prefix;
  const changed = masked.bits !== address.bits;
  return changed
    ? { ok: true, value, warning: `${JSON.stringify(text)} has host bits set; normalised to ${value}` }
    : { ok: true, value };
}

export function prefixLength(prefix: Prefix): number {
  return Number(prefix.slice(prefix.indexOf("/") + 1));
}

export function prefixAddress(prefix: Prefix): IpAddr {
  return prefix.slice(0, prefix.indexOf("/")) as IpAddr;
}

export function hostPrefix(address: IpAddr): Prefix {
  return `${address}/${maxPrefixLength(familyOf(address))}` as Prefix;
}

/** True when `inner` (an address or prefix) lies inside `outer` (equal counts). */
export function prefixContains(outer: Prefix, inner: Prefix | IpAddr): boolean {
  const innerPrefix = inner.includes("/") ? (inner as Prefix) : hostPrefix(inner as IpAddr);
  if (familyOf(outer) !== familyOf(innerPrefix)) return false;
  const outerLength = prefixLength(outer);
  if (prefixLength(innerPrefix) < outerLength) return false;
  const a = addressBits(prefixAddress(outer));
  const b = addressBits(prefixAddress(innerPrefix));
  if (a === undefined || b === undefined) return false;
  if (a.family === 4 && b.family === 4) return maskV4(b.bits, outerLength) === a.bits;
  if (a.family === 6 && b.family === 6) return maskV6(b.bits, outerLength) === a.bits;
  return false;
}

/** The default route of a family: 0.0.0.0/0 or ::/0. */
export function defaultPrefix(family: Family): Prefix {
  return (family === 4 ? "0.0.0.0/0" : "::/0") as Prefix;
}

/** Total order used wherever output must be deterministic: family, then address, then length. */
export function compareAddresses(a: IpAddr, b: IpAddr): number {
  const x = addressBits(a);
  const y = addressBits(b);
  if (x === undefined || y === undefined) return a < b ? -1 : a > b ? 1 : 0;
  if (x.family !== y.family) return x.family - y.family;
  return x.bits < y.bits ? -1 : x.bits > y.bits ? 1 : 0;
}

export function comparePrefixes(a: Prefix, b: Prefix): number {
  return compareAddresses(prefixAddress(a), prefixAddress(b)) || prefixLength(a) - prefixLength(b);
}
