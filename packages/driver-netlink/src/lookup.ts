/**
 * `lookup(flow)`: two RTM_GETROUTE requests, as `ip route get` with ports. The plain
 * one resolves the flow (which gateway and device the hash chose); the one with
 * RTM_F_FIB_MATCH returns the route that matched (its prefix and table).
 */
import { type Family, type FlowQuery, type LookupResult, tosOutOfRange } from "@kroute/core";
import { bytesToIp, bytesToPrefix } from "./address.ts";
import { RTM_GETROUTE } from "./codec/constants.ts";
import type { ErrorMessage } from "./codec/error.ts";
import type { RouteMessage } from "./codec/route.ts";
import type { NetlinkConnection } from "./connection.ts";
import type { LinkNames } from "./domain/names.ts";
import { lookupMessage } from "./domain/routes.ts";
import { EINVAL, EOPNOTSUPP } from "./ffi.ts";
import { errorResult } from "./ops.ts";

function protocolError(message: string): ErrorMessage {
  return {
    error: -EINVAL,
    request: { length: 16, type: RTM_GETROUTE, flags: 0, seq: 0, pid: 0 },
    extackMessage: message,
  };
}

async function routeGet(
  connection: NetlinkConnection,
  query: FlowQuery,
  fibMatch: boolean,
): Promise<RouteMessage | ErrorMessage> {
  const { replies, error } = await connection.request({
    type: RTM_GETROUTE,
    flags: 0,
    body: { kind: "route", route: lookupMessage(query, fibMatch) },
  });
  if (error !== undefined) return error;
  for (const reply of replies) if (reply.body.kind === "route") return reply.body.route;
  return protocolError("route get: the kernel answered without a route");
}

function isError(value: RouteMessage | ErrorMessage): value is ErrorMessage {
  return "error" in value;
}

export async function lookupFlow(
  connection: NetlinkConnection,
  names: LinkNames,
  query: FlowQuery,
): Promise<LookupResult> {
  const family: Family = query.dst.includes(":") ? 6 : 4;
  const tosRefusal = query.tos === undefined ? undefined : tosOutOfRange(query.tos);
  if (tosRefusal !== undefined) return { ok: false, errno: EINVAL, code: "EINVAL", message: tosRefusal };
  const resolved = await routeGet(connection, query, false);
  if (isError(resolved)) return errorResult(resolved);
  const matched = await routeGet(connection, query, true);
  if (isError(matched)) return errorResult(matched);
  const table = matched.tableId ?? matched.table;
  if (query.table !== undefined && query.table !== table) {
    // RTM_GETROUTE always walks the policy rules; Linux has no "look up in table N" request.
    return {
      ok: false,
      errno: EOPNOTSUPP,
      code: "EOPNOTSUPP",
      message: `the policy rules chose table ${table}; a lookup confined to table ${query.table} is not possible through RTM_GETROUTE`,
    };
  }
  // An IPv4 flow through an IPv6 next hop names it in RTA_VIA.
  const gateway = resolved.gateway ?? resolved.via;
  return {
    ok: true,
    table,
    dst: bytesToPrefix(family, matched.dst, matched.dstLen),
    dev: names.nameOf(resolved.oif ?? 0),
    ...(gateway !== undefined ? { gateway: bytesToIp(gateway) } : {}),
  };
}
