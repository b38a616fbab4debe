/**
 * `list(scope)`: dumps of links, routes, nexthops, rules and addresses, filtered in
 * the kernel where it can (strict checking: routes by table via RTA_TABLE and by
 * rtm_protocol) and here otherwise. `complete` is false if any dump failed or stayed
 * interrupted after retries.
 */
import {
  type DumpScope,
  type Family,
  inProtocols,
  type KernelAddress,
  type KernelLink,
  type KernelNexthop,
  type KernelRoute,
  type KernelRule,
  type KernelSnapshot,
  nexthopInScope,
  routeOwnerInScope,
} from "@kroute/core";
import { afOf, familyOfAf } from "./address.ts";
import {
  RT_TABLE_UNSPEC,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETNEXTHOP,
  RTM_GETROUTE,
  RTM_GETRULE,
} from "./codec/constants.ts";
import type { DumpResult, NetlinkConnection, Request } from "./connection.ts";
import { messageToAddress, messageToLink } from "./domain/links.ts";
import type { LinkTable } from "./domain/names.ts";
import { messageToNexthop } from "./domain/nexthops.ts";
import { messageToRoute } from "./domain/routes.ts";
import { messageToRule } from "./domain/rules.ts";
import { dumpWithRetries } from "./dump-retry.ts";
import { AF_UNSPEC } from "./ffi.ts";

const ENOENT = 2;
const EINVAL = 22;
const EOPNOTSUPP = 95;

export function dump(connection: NetlinkConnection, request: Request): Promise<DumpResult> {
  return dumpWithRetries(() => connection.dump(request));
}

function clean(result: DumpResult): boolean {
  return result.error === undefined && !result.interrupted;
}

export const NEXTHOP_DUMP: Request = {
  type: RTM_GETNEXTHOP,
  flags: 0,
  body: { kind: "nexthop", nexthop: { family: AF_UNSPEC, scope: 0, protocol: 0, flags: 0 } },
};

/** A route dump of one family, filtered by the kernel to a table and a protocol when given. */
export function routeDump(family: Family, table: number | undefined, protocol: number | undefined): Request {
  return {
    type: RTM_GETROUTE,
    flags: 0,
    body: {
      kind: "route",
      route: {
        family: afOf(family),
        dstLen: 0,
        srcLen: 0,
        tos: 0,
        table: table === undefined || table >= 256 ? RT_TABLE_UNSPEC : table,
        protocol: protocol ?? 0,
        scope: 0,
        type: 0,
        flags: 0,
        ...(table !== undefined ? { tableId: table } : {}),
      },
    },
  };
}

/** Dumps the links and refreshes the ifindex ↔ name table from them. */
export async function dumpLinks(
  connection: NetlinkConnection,
  names: LinkTable,
): Promise<{ readonly links: KernelLink[]; readonly complete: boolean }> {
  const result = await dump(connection, {
    type: RTM_GETLINK,
    flags: 0,
    body: { kind: "link", link: { family: AF_UNSPEC, type: 0, index: 0, flags: 0, change: 0 } },
  });
  const links: KernelLink[] = [];
  for (const m of result.messages) {
    const link = m.body.kind === "link" ? messageToLink(m.body.link) : undefined;
    if (link !== undefined) links.push(link);
  }
  const entries = links.map((l) => [l.index, l.name] as const);
  const complete = clean(result);
  // A partial dump (interrupted, or failed midway) did not list every link that is
  // there: it adds what it saw and forgets none.
  if (complete) names.replaceAll(entries);
  else for (const [index, name] of entries) names.set(index, name);
  return { links, complete };
}

export async function dumpSnapshot(
  connection: NetlinkConnection,
  names: LinkTable,
  scope: DumpScope,
): Promise<KernelSnapshot> {
  const families = scope.families ?? [4, 6];
  const linkDump = await dumpLinks(connection, names);
  let complete = linkDump.complete;
  const inTables = (object: { readonly table: number }): boolean =>
    scope.tables === undefined || scope.tables.includes(object.table);
  const inScope = (object: { readonly table: number; readonly protocol: number }): boolean =>
    inTables(object) && inProtocols(scope, object.protocol);
  // Routes through the scope's nexthop ids come whatever their protocol, and Linux
  // filters no route dump by nexthop id: every protocol is dumped, and filtered here.
  const routeProtocols = scope.nexthopIds === undefined ? (scope.protocols ?? [undefined]) : [undefined];

  const routes: KernelRoute[] = [];
  for (const family of families) {
    for (const table of scope.tables ?? [undefined]) {
      // The kernel filters a dump by one protocol: one dump for each of the scope's.
      for (const protocol of routeProtocols) {
        const result = await dump(connection, routeDump(family, table, protocol));
        // Asking for a table that does not exist (yet) is ENOENT: it is simply empty.
        const missingTable = table !== undefined && result.error?.error === -ENOENT;
        if (!clean(result) && !missingTable) complete = false;
        for (const m of result.messages) {
          const route = m.body.kind === "route" ? messageToRoute(m.body.route, names) : undefined;
          // The kernel filtered already; checking again costs little and guards older kernels.
          if (route !== undefined && inTables(route) && routeOwnerInScope(scope, route)) routes.push(route);
        }
      }
    }
  }

  const nexthops: KernelNexthop[] = [];
  const nhResult = await dump(connection, NEXTHOP_DUMP);
  // Kernels without nexthop objects refuse the dump: there are none to list.
  const noNexthops = nhResult.error?.error === -EOPNOTSUPP || nhResult.error?.error === -EINVAL;
  if (!clean(nhResult) && !noNexthops) complete = false;
  for (const m of nhResult.messages) {
    const nh = m.body.kind === "nexthop" ? messageToNexthop(m.body.nexthop, names) : undefined;
    if (nh === undefined) continue;
    if (!nexthopInScope(scope, nh.id, nh.protocol)) continue;
    if (nh.kind === "gateway" && !families.includes(nh.family)) continue;
    nexthops.push(nh);
  }
  nexthops.sort((a, b) => a.id - b.id);

  // Rule dumps take no filter under strict checking: filtered here.
  const rules: KernelRule[] = [];
  for (const family of families) {
    const result = await dump(connection, {
      type: RTM_GETRULE,
      flags: 0,
      body: {
        kind: "rule",
        rule: { family: afOf(family), dstLen: 0, srcLen: 0, tos: 0, table: 0, action: 0, flags: 0 },
      },
    });
    if (!clean(result)) complete = false;
    for (const m of result.messages) {
      const rule = m.body.kind === "rule" ? messageToRule(m.body.rule) : undefined;
      if (rule !== undefined && inScope(rule)) rules.push(rule);
    }
  }

  const addresses: KernelAddress[] = [];
  const addrResult = await dump(connection, {
    type: RTM_GETADDR,
    flags: 0,
    body: { kind: "address", address: { family: AF_UNSPEC, prefixLen: 0, flags: 0, scope: 0, index: 0 } },
  });
  if (!clean(addrResult)) complete = false;
  for (const m of addrResult.messages) {
    if (m.body.kind !== "address") continue;
    const family = familyOfAf(m.body.address.family);
    if (family === undefined || !families.includes(family)) continue;
    const address = messageToAddress(m.body.address, names);
    if (address !== undefined) addresses.push(address);
  }

  return { routes, nexthops, rules, links: linkDump.links, addresses, complete };
}
