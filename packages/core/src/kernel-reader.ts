/**
 * Readers for the kernel records of kernel.ts as they appear in the event log
 * (`kernel/observed`, `kernel/changed`, `dataplane/applied`). Addresses and prefixes
 * are canonicalised; a record's addresses must match its declared family.
 */

import {
  arrayOf,
  boolean,
  fail,
  family,
  field,
  integer,
  ipAddr,
  literal,
  nonEmptyString,
  object,
  optionalField,
  prefix,
  type Reader,
  sameFamily,
  string,
  U8,
  U32,
} from "./json-reader.ts";
import type {
  InlineNexthop,
  KernelAddress,
  KernelChange,
  KernelLink,
  KernelNexthop,
  KernelRoute,
  KernelRule,
  KernelSnapshot,
  Op,
  OpResult,
  ResilientParams,
  RouteTarget,
} from "./kernel.ts";

const nexthopId = integer(1, 0xffffffff);
/** rta_expires is an s32 of 10 ms ticks. */
const expiresInMs = integer(-(2 ** 31) * 10, (2 ** 31 - 1) * 10);
const weight = integer(1, 256);
/** A route's TOS is recorded only when set (absent is 0), and only IPv4 routes have one. */
const tos = integer(1, 255);

const inlineNexthop: Reader<InlineNexthop> = (value, path) => {
  const o = object(value, path);
  return {
    gateway: field(o, "gateway", ipAddr, path),
    dev: field(o, "dev", nonEmptyString, path),
    weight: field(o, "weight", weight, path),
    ...optionalField(o, "linkdown", literal(true), path),
  };
};

const routeTarget: Reader<RouteTarget> = (value, path) => {
  const o = object(value, path);
  const kind = field(o, "kind", literal("gateways", "nexthop-object", "device", "special"), path);
  switch (kind) {
    case "gateways":
      return { kind, nexthops: field(o, "nexthops", arrayOf(inlineNexthop), path) };
    case "nexthop-object":
      return { kind, id: field(o, "id", nexthopId, path) };
    case "device":
      return { kind, dev: field(o, "dev", nonEmptyString, path) };
    case "special":
      return { kind, type: field(o, "type", nonEmptyString, path) };
  }
};

export const kernelRoute: Reader<KernelRoute> = (value, path) => {
  const o = object(value, path);
  const fam = field(o, "family", family, path);
  const target = field(o, "target", routeTarget, path);
  if (target.kind === "gateways") {
    target.nexthops.forEach((nh, i) => {
      sameFamily(nh.gateway, fam, `${path}.target.nexthops[${i}].gateway`);
    });
  }
  const prefsrc = optionalField(o, "prefsrc", ipAddr, path);
  if (prefsrc.prefsrc !== undefined) sameFamily(prefsrc.prefsrc, fam, `${path}.prefsrc`);
  const routeTos = optionalField(o, "tos", tos, path);
  if (routeTos.tos !== undefined && fam === 6)
    fail(`${path}.tos`, routeTos.tos, "allowed: IPv6 routes have no TOS");
  return {
    family: fam,
    table: field(o, "table", U32, path),
    dst: sameFamily(field(o, "dst", prefix, path), fam, `${path}.dst`),
    metric: field(o, "metric", U32, path),
    ...routeTos,
    protocol: field(o, "protocol", U8, path),
    scope: field(o, "scope", U8, path),
    target,
    ...prefsrc,
    ...optionalField(o, "expiresInMs", expiresInMs, path),
  };
};

const resilientParams: Reader<ResilientParams> = (value, path) => {
  const o = object(value, path);
  return {
    buckets: field(o, "buckets", integer(1, 0xffff), path),
    idleTimer: field(o, "idleTimer", U32, path),
    unbalancedTimer: field(o, "unbalancedTimer", U32, path),
  };
};

export const kernelNexthop: Reader<KernelNexthop> = (value, path) => {
  const o = object(value, path);
  const kind = field(o, "kind", literal("gateway", "group", "opaque"), path);
  switch (kind) {
    case "gateway": {
      const fam = field(o, "family", family, path);
      return {
        kind,
        id: field(o, "id", nexthopId, path),
        family: fam,
        protocol: field(o, "protocol", U8, path),
        gateway: sameFamily(field(o, "gateway", ipAddr, path), fam, `${path}.gateway`),
        dev: field(o, "dev", nonEmptyString, path),
      };
    }
    case "group": {
      const member: Reader<{ id: number; weight: number }> = (m, p) => {
        const mo = object(m, p);
        return { id: field(mo, "id", nexthopId, p), weight: field(mo, "weight", weight, p) };
      };
      return {
        kind,
        id: field(o, "id", nexthopId, path),
        protocol: field(o, "protocol", U8, path),
        members: field(o, "members", arrayOf(member), path),
        groupType: field(o, "groupType", literal("mpath", "resilient"), path),
        ...optionalField(o, "resilient", resilientParams, path),
        ...optionalField(o, "fdb", literal(true), path),
      };
    }
    case "opaque": {
      const type = field(o, "type", literal("blackhole", "device", "fdb"), path);
      // Only a device-only nexthop has a device; logs recorded before agents read it lack it.
      const dev = type === "device" ? optionalField(o, "dev", nonEmptyString, path) : {};
      if (type !== "device" && Object.hasOwn(o, "dev"))
        fail(`${path}.dev`, o.dev, `absent (a ${type} nexthop has no device)`);
      return {
        kind,
        id: field(o, "id", nexthopId, path),
        protocol: field(o, "protocol", U8, path),
        type,
        ...dev,
      };
    }
  }
};

export const kernelRule: Reader<KernelRule> = (value, path) => {
  const o = object(value, path);
  const fam = field(o, "family", family, path);
  const src = optionalField(o, "src", prefix, path);
  const dst = optionalField(o, "dst", prefix, path);
  if (src.src !== undefined) sameFamily(src.src, fam, `${path}.src`);
  if (dst.dst !== undefined) sameFamily(dst.dst, fam, `${path}.dst`);
  return {
    family: fam,
    priority: field(o, "priority", U32, path),
    ...src,
    ...dst,
    table: field(o, "table", U32, path),
    protocol: field(o, "protocol", U8, path),
    ...optionalField(o, "suppressPrefixLength", integer(0, fam === 4 ? 32 : 128), path),
  };
};

const kernelLink: Reader<KernelLink> = (value, path) => {
  const o = object(value, path);
  return {
    index: field(o, "index", integer(1, 0x7fffffff), path),
    name: field(o, "name", nonEmptyString, path),
    up: field(o, "up", boolean, path),
    carrier: field(o, "carrier", boolean, path),
  };
};

const kernelAddress: Reader<KernelAddress> = (value, path) => {
  const o = object(value, path);
  const ip = field(o, "ip", ipAddr, path);
  return {
    ip,
    prefixLength: field(o, "prefixLength", integer(0, ip.includes(":") ? 128 : 32), path),
    dev: field(o, "dev", nonEmptyString, path),
  };
};

export const kernelSnapshot: Reader<KernelSnapshot> = (value, path) => {
  const o = object(value, path);
  return {
    routes: field(o, "routes", arrayOf(kernelRoute), path),
    nexthops: field(o, "nexthops", arrayOf(kernelNexthop), path),
    rules: field(o, "rules", arrayOf(kernelRule), path),
    links: field(o, "links", arrayOf(kernelLink), path),
    addresses: field(o, "addresses", arrayOf(kernelAddress), path),
    complete: field(o, "complete", boolean, path),
  };
};

export const kernelChange: Reader<KernelChange> = (value, path) => {
  const o = object(value, path);
  const kind = field(o, "kind", literal("route", "nexthop", "rule", "link", "address", "overflow"), path);
  if (kind === "overflow") return { kind };
  const action = field(o, "action", literal("new", "del"), path);
  switch (kind) {
    case "route":
      return {
        kind,
        action,
        route: field(o, "route", kernelRoute, path),
        ...optionalField(o, "replaced", literal(true), path),
        ...optionalField(o, "appended", literal(true), path),
      };
    case "nexthop":
      return { kind, action, nexthop: field(o, "nexthop", kernelNexthop, path) };
    case "rule":
      return { kind, action, rule: field(o, "rule", kernelRule, path) };
    case "link":
      return { kind, action, link: field(o, "link", kernelLink, path) };
    case "address":
      return { kind, action, address: field(o, "address", kernelAddress, path) };
  }
};

/** Reads the add/replace/delete shape of one object kind. */
function objectOp<K extends "route" | "nexthop", T>(
  kind: K,
  o: Readonly<Record<string, unknown>>,
  read: Reader<T>,
  path: string,
) {
  const action = field(o, "action", literal("add", "replace", "delete"), path);
  switch (action) {
    case "add":
      return { object: kind, action, to: field(o, "to", read, path) };
    case "replace":
      return { object: kind, action, from: field(o, "from", read, path), to: field(o, "to", read, path) };
    case "delete":
      return { object: kind, action, from: field(o, "from", read, path) };
  }
}

export const op: Reader<Op> = (value, path) => {
  const o = object(value, path);
  const kind = field(o, "object", literal("route", "nexthop", "rule"), path);
  switch (kind) {
    case "route":
      return objectOp(kind, o, kernelRoute, path);
    case "nexthop":
      return objectOp(kind, o, kernelNexthop, path);
    case "rule": {
      // Linux has no rule replace: a changed rule is a delete and an add.
      const action = field(o, "action", literal("add", "delete"), path);
      return action === "add"
        ? { object: kind, action, to: field(o, "to", kernelRule, path) }
        : { object: kind, action, from: field(o, "from", kernelRule, path) };
    }
  }
};

export const opResult: Reader<OpResult> = (value, path) => {
  const o = object(value, path);
  if (field(o, "ok", boolean, path)) return { ok: true };
  return {
    ok: false,
    errno: field(o, "errno", integer(0, 4095), path),
    code: field(o, "code", string, path),
    message: field(o, "message", string, path),
  };
};
