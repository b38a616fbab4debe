/**
 * Op → netlink requests, and kernel errors → OpResults. Flags mirror what the op
 * means: add is NLM_F_CREATE|NLM_F_EXCL (EEXIST if the key is taken), replace is
 * NLM_F_CREATE|NLM_F_REPLACE, delete names the full key. A replace whose key
 * changes (another metric, another nexthop id) is a delete of the old and an add.
 */
import type { KernelNexthop, KernelRoute, Op, OpResult } from "@kroute/core";
import {
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
} from "./codec/constants.ts";
import type { ErrorMessage } from "./codec/error.ts";
import type { Request } from "./connection.ts";
import type { LinkNames } from "./domain/names.ts";
import { nexthopKeyMessage, nexthopToMessage } from "./domain/nexthops.ts";
import { newRouteBody, routeKeyBody } from "./domain/route-writer.ts";
import { TosOutOfRangeError, UnknownDeviceError } from "./domain/routes.ts";
import { ruleToMessage } from "./domain/rules.ts";
import { EINVAL, ENODEV, errnoName, strerror } from "./ffi.ts";

export const OK: OpResult = { ok: true };
const CREATE_EXCL = NLM_F_CREATE | NLM_F_EXCL;
const CREATE_REPLACE = NLM_F_CREATE | NLM_F_REPLACE;

/** The kernel's refusal as an OpResult: errno, its name, the extack text or strerror. */
export function errorResult(error: ErrorMessage): OpResult & { ok: false } {
  const errno = -error.error;
  return { ok: false, errno, code: errnoName(errno), message: error.extackMessage ?? strerror(errno) };
}

/**
 * An op refused while its requests were built, before anything of it was sent: a
 * device the namespace lacks (ENODEV), a TOS a byte cannot hold (EINVAL). Undefined for
 * any other error, which is a bug and is thrown on.
 */
export function refusedBeforeSending(error: unknown): (OpResult & { ok: false }) | undefined {
  if (error instanceof UnknownDeviceError)
    return { ok: false, errno: ENODEV, code: "ENODEV", message: error.message };
  if (error instanceof TosOutOfRangeError)
    return { ok: false, errno: EINVAL, code: "EINVAL", message: error.message };
  return undefined;
}

export function sameRouteKey(a: KernelRoute, b: KernelRoute): boolean {
  return (
    a.family === b.family &&
    a.table === b.table &&
    a.dst === b.dst &&
    a.metric === b.metric &&
    (a.tos ?? 0) === (b.tos ?? 0)
  );
}

function newRoute(route: KernelRoute, flags: number, names: LinkNames): Request {
  return { type: RTM_NEWROUTE, flags, body: newRouteBody(route, names) };
}

function delRoute(route: KernelRoute): Request {
  return { type: RTM_DELROUTE, flags: 0, body: routeKeyBody(route) };
}

function newNexthop(nexthop: KernelNexthop, flags: number, names: LinkNames): Request {
  return {
    type: RTM_NEWNEXTHOP,
    flags,
    body: { kind: "nexthop", nexthop: nexthopToMessage(nexthop, names) },
  };
}

function delNexthop(nexthop: KernelNexthop): Request {
  return { type: RTM_DELNEXTHOP, flags: 0, body: { kind: "nexthop", nexthop: nexthopKeyMessage(nexthop) } };
}

/**
 * The requests one op becomes, all built before any is sent. Throws UnknownDeviceError
 * for a device the namespace lacks, TosOutOfRangeError for a TOS a byte cannot hold.
 */
export function opRequests(op: Op, names: LinkNames): Request[] {
  switch (op.object) {
    case "route":
      switch (op.action) {
        case "add":
          return [newRoute(op.to, CREATE_EXCL, names)];
        case "replace":
          return sameRouteKey(op.from, op.to)
            ? [newRoute(op.to, CREATE_REPLACE, names)]
            : [delRoute(op.from), newRoute(op.to, CREATE_EXCL, names)];
        case "delete":
          return [delRoute(op.from)];
      }
      break;
    case "nexthop":
      switch (op.action) {
        case "add":
          return [newNexthop(op.to, CREATE_EXCL, names)];
        case "replace":
          return op.from.id === op.to.id
            ? [newNexthop(op.to, CREATE_REPLACE, names)]
            : [delNexthop(op.from), newNexthop(op.to, CREATE_EXCL, names)];
        case "delete":
          return [delNexthop(op.from)];
      }
      break;
    case "rule":
      switch (op.action) {
        case "add":
          return [
            { type: RTM_NEWRULE, flags: CREATE_EXCL, body: { kind: "rule", rule: ruleToMessage(op.to) } },
          ];
        case "delete":
          return [{ type: RTM_DELRULE, flags: 0, body: { kind: "rule", rule: ruleToMessage(op.from) } }];
      }
  }
}

/**
 * Whether an op's new value names a device the link table does not know (then the
 * table is refreshed before translating). Runs over every op of 100,000-op batches
 * before the first send, so it allocates nothing.
 */
export function namesUnknownDevice(op: Op, links: LinkNames): boolean {
  if (op.action === "delete") return false;
  const unknown = (dev: string): boolean => links.indexOf(dev) === undefined;
  switch (op.object) {
    case "route": {
      const target = op.to.target;
      if (target.kind === "gateways") {
        for (const nexthop of target.nexthops) if (unknown(nexthop.dev)) return true;
        return false;
      }
      return target.kind === "device" && unknown(target.dev);
    }
    case "nexthop":
      return op.to.kind === "gateway" && unknown(op.to.dev);
    case "rule":
      return false;
  }
}
