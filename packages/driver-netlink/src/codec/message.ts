/**
 * A whole rtnetlink message: header plus a typed body chosen by nlmsg_type. Every
 * body kind has an encoder (`encodeMessage`) and a decoder (`decodeMessages`).
 */
import { type Decoded, Reader, Writer } from "./bytes.ts";
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETNEXTHOP,
  RTM_GETROUTE,
  RTM_GETRULE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
} from "./constants.ts";
import { decodeErrorMessage, type ErrorMessage, encodeError, errorFlags } from "./error.ts";
import { beginMessage, endMessage, type NlHeader, splitMessages } from "./header.ts";
import {
  type AddressMessage,
  decodeAddress,
  decodeLink,
  encodeAddress,
  encodeLink,
  type LinkMessage,
} from "./link.ts";
import { decodeNexthop, encodeNexthop, type NexthopMessage } from "./nexthop.ts";
import { decodeRoute, encodeRoute, type RouteMessage } from "./route.ts";
import { decodeRule, encodeRule, type RuleMessage } from "./rule.ts";

export type MessageBody =
  | { readonly kind: "route"; readonly route: RouteMessage }
  | { readonly kind: "nexthop"; readonly nexthop: NexthopMessage }
  | { readonly kind: "rule"; readonly rule: RuleMessage }
  | { readonly kind: "link"; readonly link: LinkMessage }
  | { readonly kind: "address"; readonly address: AddressMessage }
  | { readonly kind: "error"; readonly error: ErrorMessage }
  /** End of a dump; `error` is non-zero when the dump itself failed. */
  | { readonly kind: "done"; readonly error: number }
  /** Any other type (NOOP, OVERRUN, messages kroute does not read), payload kept as is. */
  | { readonly kind: "other"; readonly payload: Uint8Array };

/** Writes a body straight into the buffer of its message (the encoder of the hot path, route writes). */
export type BodyWriter = (w: Writer) => void;

export interface Message {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  readonly body: MessageBody;
}

function bodyKindOf(type: number): MessageBody["kind"] {
  switch (type) {
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
    case RTM_GETROUTE:
      return "route";
    case RTM_NEWNEXTHOP:
    case RTM_DELNEXTHOP:
    case RTM_GETNEXTHOP:
      return "nexthop";
    case RTM_NEWRULE:
    case RTM_DELRULE:
    case RTM_GETRULE:
      return "rule";
    case RTM_NEWLINK:
    case RTM_DELLINK:
    case RTM_GETLINK:
      return "link";
    case RTM_NEWADDR:
    case RTM_DELADDR:
    case RTM_GETADDR:
      return "address";
    case NLMSG_ERROR:
      return "error";
    case NLMSG_DONE:
      return "done";
    default:
      return "other";
  }
}

/** Appends a request: its body is a MessageBody, or written by the caller's BodyWriter. */
export function encodeRequest(
  w: Writer,
  type: number,
  flags: number,
  seq: number,
  body: MessageBody | BodyWriter,
): void {
  if (typeof body !== "function") {
    encodeMessage(w, { type, flags, seq, pid: 0, body });
    return;
  }
  const at = beginMessage(w, type, flags, seq);
  body(w);
  endMessage(w, at);
}

/** Appends one message to `w`. The body kind must match `type` (checked). */
export function encodeMessage(w: Writer, message: Message): void {
  const expected = bodyKindOf(message.type);
  if (expected !== message.body.kind) {
    throw new Error(
      `encodeMessage: type ${message.type} carries a ${expected} body, not ${message.body.kind}`,
    );
  }
  const body = message.body;
  const flags = body.kind === "error" ? message.flags | errorFlags(body.error) : message.flags;
  const at = beginMessage(w, message.type, flags, message.seq);
  w.patchU32(at + 12, message.pid);
  switch (body.kind) {
    case "route":
      encodeRoute(w, body.route);
      break;
    case "nexthop":
      encodeNexthop(w, body.nexthop);
      break;
    case "rule":
      encodeRule(w, body.rule);
      break;
    case "link":
      encodeLink(w, body.link);
      break;
    case "address":
      encodeAddress(w, body.address);
      break;
    case "error":
      encodeError(w, body.error);
      break;
    case "done":
      w.i32(body.error);
      break;
    case "other":
      w.bytes(body.payload);
      break;
  }
  endMessage(w, at);
}

export function encodeMessages(messages: readonly Message[]): Uint8Array {
  const w = new Writer();
  for (const message of messages) encodeMessage(w, message);
  return w.finish();
}

function decodeBody(header: NlHeader, payload: Uint8Array, base: number): Decoded<MessageBody> {
  const kind = bodyKindOf(header.type);
  switch (kind) {
    case "route": {
      const d = decodeRoute(payload, base);
      return d.ok ? { ok: true, value: { kind, route: d.value } } : d;
    }
    case "nexthop": {
      const d = decodeNexthop(payload, base);
      return d.ok ? { ok: true, value: { kind, nexthop: d.value } } : d;
    }
    case "rule": {
      const d = decodeRule(payload, base);
      return d.ok ? { ok: true, value: { kind, rule: d.value } } : d;
    }
    case "link": {
      const d = decodeLink(payload, base);
      return d.ok ? { ok: true, value: { kind, link: d.value } } : d;
    }
    case "address": {
      const d = decodeAddress(payload, base);
      return d.ok ? { ok: true, value: { kind, address: d.value } } : d;
    }
    case "error": {
      const d = decodeErrorMessage(payload, header.flags, base);
      return d.ok ? { ok: true, value: { kind, error: d.value } } : d;
    }
    case "done": {
      const reader = new Reader(payload);
      return { ok: true, value: { kind, error: reader.has(0, 4) ? reader.i32(0) : 0 } };
    }
    case "other":
      return { ok: true, value: { kind, payload: payload.slice() } };
  }
}

/** Decodes every message of one datagram, or the first DecodeError. Never throws. */
export function decodeMessages(data: Uint8Array): Decoded<Message[]> {
  const split = splitMessages(data);
  if (!split.ok) return split;
  const messages: Message[] = [];
  for (const raw of split.value) {
    const body = decodeBody(raw.header, raw.payload, raw.offset);
    if (!body.ok) return body;
    const { type, flags, seq, pid } = raw.header;
    messages.push({ type, flags, seq, pid, body: body.value });
  }
  return { ok: true, value: messages };
}
