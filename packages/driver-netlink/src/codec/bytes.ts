/**
 * Byte-level building blocks of the netlink wire format: a growable writer that
 * lays out messages and nested attributes in host byte order (netlink's order), and
 * a bounds-checked reader whose failures are values (`DecodeError`), never throws.
 */

/** Netlink aligns headers and attributes to 4 bytes. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

export interface DecodeError {
  readonly kind: "decode-error";
  readonly message: string;
  readonly offset: number;
}

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DecodeError };

export function decodeError(message: string, offset: number): { ok: false; error: DecodeError } {
  return { ok: false, error: { kind: "decode-error", message, offset } };
}

export const NLA_F_NESTED = 0x8000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export class Writer {
  private buffer: Uint8Array;
  private view: DataView;
  offset = 0;

  constructor(capacity = 4096) {
    this.buffer = new Uint8Array(capacity);
    this.view = new DataView(this.buffer.buffer);
  }

  private reserve(bytes: number): void {
    const needed = this.offset + bytes;
    if (needed <= this.buffer.byteLength) return;
    let size = this.buffer.byteLength * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.offset));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    this.reserve(1);
    this.view.setUint8(this.offset, value);
    this.offset += 1;
  }

  u16(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.offset, value, LITTLE_ENDIAN);
    this.offset += 2;
  }

  u16be(value: number): void {
    this.reserve(2);
    this.view.setUint16(this.offset, value, false);
    this.offset += 2;
  }

  u32(value: number): void {
    this.reserve(4);
    this.view.setUint32(this.offset, value, LITTLE_ENDIAN);
    this.offset += 4;
  }

  i32(value: number): void {
    this.reserve(4);
    this.view.setInt32(this.offset, value, LITTLE_ENDIAN);
    this.offset += 4;
  }

  bytes(data: Uint8Array): void {
    this.reserve(data.byteLength);
    this.buffer.set(data, this.offset);
    this.offset += data.byteLength;
  }

  /** Zero padding up to the next 4-byte boundary. */
  pad(): void {
    const target = align4(this.offset);
    this.reserve(target - this.offset);
    while (this.offset < target) this.buffer[this.offset++] = 0;
  }

  /** Overwrites a u32 already written at `at` (message and attribute lengths). */
  patchU32(at: number, value: number): void {
    this.view.setUint32(at, value, LITTLE_ENDIAN);
  }

  patchU16(at: number, value: number): void {
    this.view.setUint16(at, value, LITTLE_ENDIAN);
  }

  /** Starts an rtattr; returns its offset for `endAttr`. */
  beginAttr(type: number): number {
    const at = this.offset;
    this.u16(0);
    this.u16(type);
    return at;
  }

  /** Starts a nested attribute flagged NLA_F_NESTED, which strict validation demands of newer attributes. */
  beginNested(type: number): number {
    return this.beginAttr(type | NLA_F_NESTED);
  }

  endAttr(at: number): void {
    this.patchU16(at, this.offset - at);
    this.pad();
  }

  attrBytes(type: number, data: Uint8Array): void {
    const at = this.beginAttr(type);
    this.bytes(data);
    this.endAttr(at);
  }

  attrU8(type: number, value: number): void {
    const at = this.beginAttr(type);
    this.u8(value);
    this.endAttr(at);
  }

  attrU16(type: number, value: number): void {
    const at = this.beginAttr(type);
    this.u16(value);
    this.endAttr(at);
  }

  attrU16be(type: number, value: number): void {
    const at = this.beginAttr(type);
    this.u16be(value);
    this.endAttr(at);
  }

  /** A 4-byte attribute in one step (length 8, already aligned): per route in big batches. */
  attrU32(type: number, value: number): void {
    this.#attr4(type, value, LITTLE_ENDIAN);
  }

  /** A 4-byte attribute holding `value` in network order: an IPv4 address given as a number. */
  attrU32be(type: number, value: number): void {
    this.#attr4(type, value, false);
  }

  #attr4(type: number, value: number, littleEndian: boolean): void {
    this.reserve(8);
    const view = this.view;
    const at = this.offset;
    view.setUint16(at, 8, LITTLE_ENDIAN);
    view.setUint16(at + 2, type, LITTLE_ENDIAN);
    view.setUint32(at + 4, value, littleEndian);
    this.offset = at + 8;
  }

  attrFlag(type: number): void {
    this.endAttr(this.beginAttr(type));
  }

  /** A NUL-terminated string attribute (IFLA_IFNAME, FRA_IIFNAME...). */
  attrString(type: number, value: string): void {
    const at = this.beginAttr(type);
    this.bytes(new TextEncoder().encode(value));
    this.u8(0);
    this.endAttr(at);
  }

  /** A copy of everything written so far. */
  finish(): Uint8Array {
    return this.buffer.slice(0, this.offset);
  }

  /** A view of everything written so far, valid until the next write. */
  view_(): Uint8Array {
    return this.buffer.subarray(0, this.offset);
  }

  reset(): void {
    this.offset = 0;
  }
}

export class Reader {
  readonly data: Uint8Array;
  private readonly view: DataView;

  constructor(data: Uint8Array) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  get length(): number {
    return this.data.byteLength;
  }

  has(offset: number, bytes: number): boolean {
    return offset >= 0 && offset + bytes <= this.data.byteLength;
  }

  /** Callers check `has` first; these never read out of bounds. */
  u8(offset: number): number {
    return this.view.getUint8(offset);
  }

  u16(offset: number): number {
    return this.view.getUint16(offset, LITTLE_ENDIAN);
  }

  u16be(offset: number): number {
    return this.view.getUint16(offset, false);
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, LITTLE_ENDIAN);
  }

  i32(offset: number): number {
    return this.view.getInt32(offset, LITTLE_ENDIAN);
  }

  slice(offset: number, bytes: number): Uint8Array {
    return this.data.subarray(offset, offset + bytes);
  }
}
