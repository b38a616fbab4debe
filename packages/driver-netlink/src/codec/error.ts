/**
 * NLMSG_ERROR: `{i32 error, nlmsghdr request, [request payload unless capped],
 * [extended-ACK TLVs when NLM_F_ACK_TLVS]}`. error 0 is an ACK.
 */
import { decodeAttrs } from "./attrs.ts";
import { align4, type Decoded, decodeError, Reader, type Writer } from "./bytes.ts";
import {
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
} from "./constants.ts";
import { decodeHeader, type NlHeader } from "./header.ts";

export interface ErrorMessage {
  /** 0 for an ACK, else a negative errno. */
  readonly error: number;
  /** Header of the request this answers (seq matches it to an op). */
  readonly request: NlHeader;
  /** The kernel's extended-ACK text, when it gave one. */
  readonly extackMessage?: string;
  /** Offset of the offending attribute within the request, when given. */
  readonly extackOffset?: number;
}

/** Writes the body of a capped error message (the kernel's form under NETLINK_CAP_ACK). */
export function encodeError(w: Writer, message: ErrorMessage): void {
  w.i32(message.error);
  w.u32(NLMSG_HDRLEN);
  w.u16(message.request.type);
  w.u16(message.request.flags);
  w.u32(message.request.seq);
  w.u32(message.request.pid);
  if (message.extackMessage !== undefined) w.attrString(NLMSGERR_ATTR_MSG, message.extackMessage);
  if (message.extackOffset !== undefined) w.attrU32(NLMSGERR_ATTR_OFFS, message.extackOffset);
}

/** Header flags to send with `encodeError` output. */
export function errorFlags(message: ErrorMessage): number {
  const tlvs = message.extackMessage !== undefined || message.extackOffset !== undefined;
  return NLM_F_CAPPED | (tlvs ? NLM_F_ACK_TLVS : 0);
}

export function decodeErrorMessage(payload: Uint8Array, flags: number, base: number): Decoded<ErrorMessage> {
  const reader = new Reader(payload);
  if (!reader.has(0, 4 + NLMSG_HDRLEN))
    return decodeError(`nlmsgerr needs 20 bytes, got ${payload.length}`, base);
  const error = reader.i32(0);
  const request = decodeHeader(reader, 4);
  let message: ErrorMessage = { error, request };
  if ((flags & NLM_F_ACK_TLVS) === 0) return { ok: true, value: message };
  const requestBytes = (flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : request.length;
  const tlvStart = 4 + align4(requestBytes);
  if (requestBytes < NLMSG_HDRLEN || tlvStart > reader.length) {
    return decodeError(`nlmsgerr: echoed request of ${requestBytes} bytes does not fit`, base + 4);
  }
  const attrs = decodeAttrs(payload.subarray(tlvStart), base + tlvStart);
  if (!attrs.ok) return attrs;
  for (const attr of attrs.value) {
    if (attr.type === NLMSGERR_ATTR_MSG) {
      const end = attr.data.indexOf(0);
      message = {
        ...message,
        extackMessage: new TextDecoder().decode(end < 0 ? attr.data : attr.data.subarray(0, end)),
      };
    } else if (attr.type === NLMSGERR_ATTR_OFFS && attr.data.byteLength >= 4) {
      message = { ...message, extackOffset: new Reader(attr.data).u32(0) };
    }
  }
  return { ok: true, value: message };
}
