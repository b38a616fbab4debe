/** nlmsghdr: `{u32 len, u16 type, u16 flags, u32 seq, u32 pid}`, then the payload. */
import { align4, type Decoded, decodeError, Reader, type Writer } from "./bytes.ts";
import { NLMSG_HDRLEN } from "./constants.ts";

export interface NlHeader {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
}

export interface RawMessage {
  readonly header: NlHeader;
  readonly payload: Uint8Array;
  /** Offset of the payload in the received buffer. */
  readonly offset: number;
}

/** Writes a header with a placeholder length; `endMessage` patches it. */
export function beginMessage(w: Writer, type: number, flags: number, seq: number): number {
  const at = w.offset;
  w.u32(0);
  w.u16(type);
  w.u16(flags);
  w.u32(seq);
  w.u32(0);
  return at;
}

export function endMessage(w: Writer, at: number): void {
  w.patchU32(at, w.offset - at);
  w.pad();
}

export function decodeHeader(reader: Reader, at: number): NlHeader {
  return {
    length: reader.u32(at),
    type: reader.u16(at + 4),
    flags: reader.u16(at + 6),
    seq: reader.u32(at + 8),
    pid: reader.u32(at + 12),
  };
}

/** Splits one datagram into its messages; any length that does not fit is a DecodeError. */
export function splitMessages(data: Uint8Array): Decoded<RawMessage[]> {
  const reader = new Reader(data);
  const messages: RawMessage[] = [];
  let at = 0;
  while (at < reader.length) {
    if (!reader.has(at, NLMSG_HDRLEN))
      return decodeError(`truncated nlmsghdr: ${reader.length - at} bytes`, at);
    const header = decodeHeader(reader, at);
    if (header.length < NLMSG_HDRLEN || !reader.has(at, header.length)) {
      return decodeError(`nlmsghdr length ${header.length} does not fit in ${reader.length - at} bytes`, at);
    }
    messages.push({
      header,
      payload: reader.slice(at + NLMSG_HDRLEN, header.length - NLMSG_HDRLEN),
      offset: at + NLMSG_HDRLEN,
    });
    at += align4(header.length);
  }
  return { ok: true, value: messages };
}
