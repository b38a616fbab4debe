/**
 * The event log, format version 1 (SPEC §6): JSON Lines, one EngineEvent per line.
 *
 * Decoding is errors-as-values: a line that is not JSON, lacks the envelope
 * (`v`, `seq`, `at`, `type`), has `v` other than 1, breaks the increasing `seq`, or
 * has a known kind with a bad shape is an error naming the line and the field.
 * A line of an unknown kind is skipped with a warning (logs from newer agents stay
 * readable). Blank lines are ignored. Addresses and prefixes are canonicalised, so
 * decoding an encoded canonical event gives it back unchanged.
 */
import type { DefaultGateway, EngineEvent, EventOf, EventType, HostAddress } from "./events.ts";
import { familyOf } from "./ip.ts";
import {
  arrayOf,
  boolean,
  dictionaryOf,
  fail,
  field,
  integer,
  ipAddr,
  type Json,
  JsonShapeError,
  literal,
  nonEmptyString,
  nonNegativeNumber,
  object,
  optionalField,
  prefix,
  type Reader,
  string,
  U8,
  U32,
} from "./json-reader.ts";
import { kernelChange, kernelSnapshot, op, opResult } from "./kernel-reader.ts";
import type { RouteObject } from "./route.ts";
import type { EngineSettings, TableRange } from "./settings.ts";

export const EVENT_LOG_VERSION = 1;

export interface LogWarning {
  readonly line: number;
  /** The unknown event kind that was skipped. */
  readonly kind: string;
  /** `line 9: unknown event kind "gateway/renamed", skipped` */
  readonly message: string;
}

export interface LogError {
  readonly line: number;
  /** `line 4: probe/result.gateway: "x" is not an IP address` */
  readonly message: string;
}

export type LineResult =
  | { readonly kind: "event"; readonly event: EngineEvent }
  | { readonly kind: "blank" }
  | { readonly kind: "unknown"; readonly seq: number; readonly warning: LogWarning }
  | { readonly kind: "error"; readonly error: LogError };

export type DecodedLog =
  | { readonly ok: true; readonly events: EngineEvent[]; readonly warnings: LogWarning[] }
  /** Decoding stops at the first error; `events` are those before it. */
  | {
      readonly ok: false;
      readonly error: LogError;
      readonly events: EngineEvent[];
      readonly warnings: LogWarning[];
    };

/** One line of the log, without its newline. The envelope comes first, for people reading logs. */
export function encodeEvent(event: EngineEvent): string {
  const { v, seq, at, type, ...body } = event;
  return JSON.stringify({ v, seq, at, type, ...body });
}

export function encodeLog(events: readonly EngineEvent[]): string {
  return events.map((e) => `${encodeEvent(e)}\n`).join("");
}

// --- event bodies ---

type Body<K extends EventType> = Omit<EventOf<K>, "v" | "seq" | "at" | "type">;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const isoTime: Reader<string> = (value, path) =>
  typeof value === "string" && ISO_TIME.test(value) && !Number.isNaN(Date.parse(value))
    ? value
    : fail(path, value, "an ISO-8601 time");

/** A Route object: the envelope is checked, the spec is carried as is (validateRoute judges it). */
const routeObject: Reader<RouteObject> = (value, path) => {
  const o = object(value, path);
  const metaPath = `${path}.metadata`;
  const meta = field(o, "metadata", object, path);
  return {
    ...optionalField(o, "apiVersion", string, path),
    ...optionalField(o, "kind", string, path),
    metadata: {
      name: field(meta, "name", nonEmptyString, metaPath),
      ...optionalField(meta, "generation", integer(0, Number.MAX_SAFE_INTEGER), metaPath),
      ...optionalField(meta, "creationTimestamp", string, metaPath),
      ...optionalField(meta, "uid", string, metaPath),
      ...optionalField(meta, "resourceVersion", string, metaPath),
    },
    spec: o.spec,
  };
};

const defaultGateway: Reader<DefaultGateway> = (value, path) => {
  const o = object(value, path);
  const via = field(o, "via", ipAddr, path);
  // Only an IPv4 default route may go via a gateway of the other family (RFC 5549);
  // Linux refuses an IPv6 route via an IPv4 gateway.
  const routeFamily = optionalField(o, "family", literal(4), path);
  if (routeFamily.family !== undefined && familyOf(via) !== 6) {
    throw new JsonShapeError(
      `${path}.family`,
      `4 is only for an IPv4 default route via an IPv6 gateway, and via is ${via}`,
    );
  }
  return {
    via,
    dev: field(o, "dev", nonEmptyString, path),
    ...optionalField(o, "metric", U32, path),
    ...routeFamily,
    ...optionalField(o, "expiresAt", isoTime, path),
  };
};

const hostAddress: Reader<HostAddress> = (value, path) => {
  const o = object(value, path);
  const ip = field(o, "ip", ipAddr, path);
  return {
    ip,
    dev: field(o, "dev", nonEmptyString, path),
    ...optionalField(o, "prefixLength", integer(0, familyOf(ip) === 4 ? 32 : 128), path),
  };
};

const tableRange: Reader<TableRange> = (value, path) => {
  const o = object(value, path);
  return {
    first: field(o, "first", integer(1, 0xffffffff), path),
    last: field(o, "last", integer(1, 0xffffffff), path),
  };
};

const settings: Reader<EngineSettings> = (value, path) => {
  const o = object(value, path);
  const resilient: Reader<NonNullable<EngineSettings["resilient"]>> = (r, p) => {
    const ro = object(r, p);
    return {
      buckets: field(ro, "buckets", integer(1, 0xffff), p),
      idleTimer: field(ro, "idleTimer", U32, p),
      unbalancedTimer: field(ro, "unbalancedTimer", U32, p),
    };
  };
  return {
    protocol: field(o, "protocol", U8, path),
    metric: field(o, "metric", U32, path),
    nexthopIdBase: field(o, "nexthopIdBase", integer(1, 0xffffffff), path),
    nexthopIdCount: field(o, "nexthopIdCount", integer(1, 0xffffffff), path),
    nexthopMode: field(o, "nexthopMode", literal("groups", "multipath"), path),
    ...optionalField(o, "resilient", resilient, path),
    replyTable: field(o, "replyTable", integer(1, 0xffffffff), path),
    // At least 1: the rule that lets main's specific routes go first sits just before it.
    replyRulePriority: field(o, "replyRulePriority", integer(1, 0xffffffff), path),
    protectedPrefixes: field(o, "protectedPrefixes", arrayOf(prefix), path),
    ...optionalField(o, "routeTables", arrayOf(tableRange), path),
    ...optionalField(o, "maxDestinations", integer(1, 0xffffffff), path),
  };
};

const node = (o: Json, path: string): string => field(o, "node", nonEmptyString, path);

/** One reader per kind; the mapped type makes a new EngineEvent kind a compile error here until it is read. */
const BODY_READERS: { readonly [K in EventType]: (o: Json, path: string) => Body<K> } = {
  "route/upserted": (o, path) => ({ route: field(o, "route", routeObject, path) }),
  "route/deleted": (o, path) => ({ name: field(o, "name", nonEmptyString, path) }),
  "route/resynced": (o, path) => ({ routes: field(o, "routes", arrayOf(routeObject), path) }),
  "node/observed": (o, path) => ({
    node: node(o, path),
    labels: field(o, "labels", dictionaryOf(string), path),
  }),
  "host/observed": (o, path) => ({
    node: node(o, path),
    defaultGateways: field(o, "defaultGateways", arrayOf(defaultGateway), path),
    addresses: field(o, "addresses", arrayOf(hostAddress), path),
    dns: field(o, "dns", arrayOf(ipAddr), path),
    apiServers: field(o, "apiServers", arrayOf(ipAddr), path),
    protect: field(o, "protect", arrayOf(prefix), path),
  }),
  "probe/result": (o, path) => ({
    node: node(o, path),
    gateway: field(o, "gateway", ipAddr, path),
    up: field(o, "up", boolean, path),
    ...optionalField(o, "rttMs", nonNegativeNumber, path),
  }),
  "agent/configured": (o, path) => ({ node: node(o, path), settings: field(o, "settings", settings, path) }),
  "kernel/observed": (o, path) => ({
    node: node(o, path),
    snapshot: field(o, "snapshot", kernelSnapshot, path),
  }),
  "kernel/changed": (o, path) => ({ node: node(o, path), change: field(o, "change", kernelChange, path) }),
  "dataplane/applied": (o, path) => {
    const results = field(
      o,
      "results",
      arrayOf((r, p) => {
        const ro = object(r, p);
        return { op: field(ro, "op", op, p), result: field(ro, "result", opResult, p) };
      }),
      path,
    );
    const resultIndex: Reader<number> = (value, p) =>
      typeof value === "number" && Number.isInteger(value) && value >= 0 && value < results.length
        ? value
        : fail(p, value, `the index of one of the event's ${results.length} results`);
    return { node: node(o, path), results, ...optionalField(o, "echoed", arrayOf(resultIndex), path) };
  },
  "timer/fired": (o, path) => ({
    node: node(o, path),
    timer: field(o, "timer", literal("retry", "resync"), path),
  }),
};

function isKnownType(type: string): type is EventType {
  return Object.hasOwn(BODY_READERS, type);
}

// --- lines ---

const lineError = (line: number, message: string): LineResult => ({
  kind: "error",
  error: { line, message: `line ${line}: ${message}` },
});

/**
 * Decodes one line on its own (no ordering check: see createLogDecoder).
 * `lineNumber` is 1-based and only used in messages. Never throws.
 */
export function decodeLine(line: string, lineNumber: number): LineResult {
  if (line.trim() === "") return { kind: "blank" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    return lineError(lineNumber, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  try {
    const o = object(parsed, "event");
    const v = field(o, "v", integer(0, Number.MAX_SAFE_INTEGER), "event");
    if (v !== EVENT_LOG_VERSION)
      return lineError(lineNumber, `event log version ${v} is not supported (only 1)`);
    const seq = field(o, "seq", integer(0, Number.MAX_SAFE_INTEGER), "event");
    const at = field(o, "at", isoTime, "event");
    const type = field(o, "type", nonEmptyString, "event");
    if (!isKnownType(type)) {
      const message = `line ${lineNumber}: unknown event kind ${JSON.stringify(type)}, skipped`;
      return { kind: "unknown", seq, warning: { line: lineNumber, kind: type, message } };
    }
    // The reader for `type` builds exactly the body of EventOf<type>; TypeScript cannot follow that correlation.
    const body = (BODY_READERS[type] as (o: Json, path: string) => object)(o, type);
    return { kind: "event", event: { v: EVENT_LOG_VERSION, seq, at, type, ...body } as EngineEvent };
  } catch (error) {
    if (error instanceof JsonShapeError) return lineError(lineNumber, error.message);
    return lineError(lineNumber, `unreadable (${error instanceof Error ? error.message : String(error)})`);
  }
}

export interface LogDecoder {
  /** Feeds the next line (without its newline); line numbers count from 1. */
  push(line: string): LineResult;
}

/** A stateful decoder for a stream of lines: numbers them and enforces increasing `seq`. */
export function createLogDecoder(): LogDecoder {
  let lineNumber = 0;
  let lastSeq = -1;
  return {
    push(line) {
      lineNumber++;
      const result = decodeLine(line.endsWith("\r") ? line.slice(0, -1) : line, lineNumber);
      const seq =
        result.kind === "event" ? result.event.seq : result.kind === "unknown" ? result.seq : undefined;
      if (seq === undefined) return result;
      if (seq <= lastSeq)
        return lineError(lineNumber, `seq ${seq} does not increase (previous was ${lastSeq})`);
      lastSeq = seq;
      return result;
    },
  };
}

export function decodeLog(text: string): DecodedLog {
  const decoder = createLogDecoder();
  const events: EngineEvent[] = [];
  const warnings: LogWarning[] = [];
  for (const line of text.split("\n")) {
    const result = decoder.push(line);
    switch (result.kind) {
      case "event":
        events.push(result.event);
        break;
      case "unknown":
        warnings.push(result.warning);
        break;
      case "blank":
        break;
      case "error":
        return { ok: false, error: result.error, events, warnings };
    }
  }
  return { ok: true, events, warnings };
}
