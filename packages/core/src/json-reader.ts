/**
 * Small readers that turn untrusted JSON into typed values, naming the path of the
 * first thing that is wrong (`probe/result.gateway: "x" is not an IP address`).
 *
 * Readers signal a bad shape by throwing JsonShapeError; the boundary that calls
 * them (decodeLine) catches it and returns the error as a value, so nothing outside
 * this module and its callers ever sees the exception.
 */
import { familyOf, type IpAddr, type Prefix, parseIp, parsePrefix } from "./ip.ts";

/** A value as it appears in a message; strings quoted, everything else by its kind. */
export function show(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "undefined":
      return "nothing";
    default:
      if (value === null) return "null";
      if (Array.isArray(value)) return "a list";
      return typeof value === "object" ? "an object" : `a ${typeof value}`;
  }
}

export class JsonShapeError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path}: ${message}`);
    this.name = "JsonShapeError";
    this.path = path;
  }
}

export type Reader<T> = (value: unknown, path: string) => T;
export type Json = Readonly<Record<string, unknown>>;

export function fail(path: string, value: unknown, expected: string): never {
  throw new JsonShapeError(path, `${show(value)} is not ${expected}`);
}

export const object: Reader<Json> = (value, path) =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Json)
    : fail(path, value, "an object");

export const string: Reader<string> = (value, path) =>
  typeof value === "string" ? value : fail(path, value, "a string");

export const nonEmptyString: Reader<string> = (value, path) =>
  typeof value === "string" && value !== "" ? value : fail(path, value, "a non-empty string");

export const boolean: Reader<boolean> = (value, path) =>
  typeof value === "boolean" ? value : fail(path, value, "true or false");

export const integer =
  (min: number, max: number): Reader<number> =>
  (value, path) =>
    typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
      ? value
      : fail(path, value, `an integer ${min}..${max}`);

export const U32 = integer(0, 0xffffffff);
export const U8 = integer(0, 255);

export const nonNegativeNumber: Reader<number> = (value, path) =>
  typeof value === "number" && Number.isFinite(value) && value >= 0
    ? value
    : fail(path, value, "a number ≥ 0");

export const literal =
  <T extends string | number | boolean>(...options: readonly T[]): Reader<T> =>
  (value, path) =>
    options.includes(value as T)
      ? (value as T)
      : fail(path, value, `one of ${options.map((o) => JSON.stringify(o)).join(", ")}`);

export const family = literal(4, 6);

/** An address, canonicalised (so `FD00::1` reads as `fd00::1`). */
export const ipAddr: Reader<IpAddr> = (value, path) => {
  const parsed = typeof value === "string" ? parseIp(value) : undefined;
  return parsed?.ok === true ? parsed.value : fail(path, value, "an IP address");
};

/** A CIDR, canonicalised; host bits are cleared as everywhere else at the edge. */
export const prefix: Reader<Prefix> = (value, path) => {
  const parsed = typeof value === "string" ? parsePrefix(value) : undefined;
  return parsed?.ok === true ? parsed.value : fail(path, value, "an IPv4 or IPv6 CIDR");
};

export const arrayOf =
  <T>(item: Reader<T>): Reader<T[]> =>
  (value, path) =>
    Array.isArray(value)
      ? value.map((entry: unknown, index) => item(entry, `${path}[${index}]`))
      : fail(path, value, "a list");

/** A JSON object whose values all satisfy `item` (labels, say). */
export const dictionaryOf =
  <T>(item: Reader<T>): Reader<Record<string, T>> =>
  (value, path) =>
    Object.fromEntries(
      Object.entries(object(value, path)).map(([key, entry]) => [key, item(entry, `${path}.${key}`)]),
    );

/** Reads a required field of `obj`. */
export function field<T>(obj: Json, key: string, read: Reader<T>, path: string): T {
  if (!Object.hasOwn(obj, key)) throw new JsonShapeError(`${path}.${key}`, "required");
  return read(obj[key], `${path}.${key}`);
}

/**
 * Reads an optional field as a fragment to spread into the result: `{}` when absent,
 * `{ key: value }` when present, so absent stays absent (never `undefined`).
 */
export function optionalField<K extends string, T>(
  obj: Json,
  key: K,
  read: Reader<T>,
  path: string,
): { [P in K]?: T } {
  if (!Object.hasOwn(obj, key) || obj[key] === undefined) return {};
  return { [key]: read(obj[key], `${path}.${key}`) } as { [P in K]?: T };
}

/** Checks that an address or prefix has the family its record declares. */
export function sameFamily<T extends IpAddr | Prefix>(value: T, expected: 4 | 6, path: string): T {
  return familyOf(value) === expected
    ? value
    : fail(path, value, `an IPv${expected} value (family is ${expected})`);
}
