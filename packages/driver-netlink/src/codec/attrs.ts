/**
 * rtattr lists: `{u16 len, u16 type, payload, pad to 4}` repeated. Decoding checks
 * every length against its container; a malformed list is a DecodeError.
 */
import { align4, type Decoded, decodeError, Reader } from "./bytes.ts";

export interface RawAttr {
  /** Type with NLA_F_NESTED / NLA_F_NET_BYTEORDER cleared. */
  readonly type: number;
  readonly data: Uint8Array;
  /** Offset of the payload within the decoded buffer, for error messages. */
  readonly offset: number;
}

const NLA_TYPE_MASK = 0x3fff;

export function decodeAttrs(data: Uint8Array, baseOffset = 0): Decoded<RawAttr[]> {
  const reader = new Reader(data);
  const attrs: RawAttr[] = [];
  let at = 0;
  while (at + 4 <= reader.length) {
    const length = reader.u16(at);
    const type = reader.u16(at + 2) & NLA_TYPE_MASK;
    if (length < 4 || at + length > reader.length) {
      return decodeError(
        `attribute type ${type} has length ${length}, ${reader.length - at} bytes left`,
        baseOffset + at,
      );
    }
    attrs.push({ type, data: reader.slice(at + 4, length - 4), offset: baseOffset + at + 4 });
    at += align4(length);
  }
  return { ok: true, value: attrs };
}

/** Typed accessors that fail with a DecodeError naming the attribute on a wrong size. */
export class AttrCheck {
  error: string | undefined;
  errorOffset = 0;

  /** Records the first failure only. */
  report(message: string, offset: number): void {
    if (this.error === undefined) {
      this.error = message;
      this.errorOffset = offset;
    }
  }

  private fail(attr: RawAttr, name: string, expected: string): void {
    this.report(`${name} must be ${expected}, got ${attr.data.byteLength} bytes`, attr.offset);
  }

  u8(attr: RawAttr, name: string): number {
    if (attr.data.byteLength < 1) {
      this.fail(attr, name, "1 byte");
      return 0;
    }
    return attr.data[0] ?? 0;
  }

  u16(attr: RawAttr, name: string): number {
    if (attr.data.byteLength < 2) {
      this.fail(attr, name, "2 bytes");
      return 0;
    }
    return new Reader(attr.data).u16(0);
  }

  u16be(attr: RawAttr, name: string): number {
    if (attr.data.byteLength < 2) {
      this.fail(attr, name, "2 bytes");
      return 0;
    }
    return new Reader(attr.data).u16be(0);
  }

  u32(attr: RawAttr, name: string): number {
    if (attr.data.byteLength < 4) {
      this.fail(attr, name, "4 bytes");
      return 0;
    }
    return new Reader(attr.data).u32(0);
  }

  /** An IPv4 (4 bytes) or IPv6 (16 bytes) address, copied out of the buffer. */
  address(attr: RawAttr, name: string): Uint8Array {
    if (attr.data.byteLength !== 4 && attr.data.byteLength !== 16) {
      this.fail(attr, name, "4 or 16 bytes");
      return new Uint8Array(4);
    }
    return attr.data.slice();
  }

  /** A NUL-terminated string; without a NUL, the whole payload. */
  string(attr: RawAttr): string {
    const end = attr.data.indexOf(0);
    return new TextDecoder().decode(end < 0 ? attr.data : attr.data.subarray(0, end));
  }

  nested(attr: RawAttr): RawAttr[] {
    const decoded = decodeAttrs(attr.data, attr.offset);
    if (!decoded.ok) {
      this.report(decoded.error.message, decoded.error.offset);
      return [];
    }
    return decoded.value;
  }

  result<T>(value: T): Decoded<T> {
    return this.error === undefined ? { ok: true, value } : decodeError(this.error, this.errorOffset);
  }
}
