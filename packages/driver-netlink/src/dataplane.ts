/**
 * The rtnetlink Dataplane: one instance per network namespace (the current one, or
 * a named one under /var/run/netns). Two sockets: one for requests and dumps, one
 * (opened on the first watch()) for multicast notifications.
 */
import { release } from "node:os";
import type {
  Dataplane,
  DataplaneFeatures,
  DumpScope,
  Family,
  FlowQuery,
  KernelAddress,
  KernelChange,
  KernelLink,
  KernelNexthop,
  KernelRoute,
  KernelRule,
  KernelSnapshot,
  LookupResult,
  MultipathHashPolicy,
  Op,
  OpResult,
} from "@kroute/core";
import { type Observable, Subject } from "rxjs";
import { afOf, bytesToIp, bytesToPrefix, familyOfAf } from "./address.ts";
import {
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RT_TABLE_UNSPEC,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETNEXTHOP,
  RTM_GETROUTE,
  RTM_GETRULE,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
} from "./codec/constants.ts";
import type { ErrorMessage } from "./codec/error.ts";
import type { Message } from "./codec/message.ts";
import { type DumpResult, NetlinkConnection, type Request } from "./connection.ts";
import { messageToAddress, messageToLink } from "./domain/links.ts";
import { LinkTable } from "./domain/names.ts";
import { messageToNexthop, nexthopKeyMessage, nexthopToMessage } from "./domain/nexthops.ts";
import {
  lookupMessage,
  messageToRoute,
  routeKeyMessage,
  routeToMessage,
  UnknownDeviceError,
} from "./domain/routes.ts";
import { messageToRule, ruleToMessage } from "./domain/rules.ts";
import { dumpWithRetries } from "./dump-retry.ts";
import { AF_UNSPEC, ENODEV, errnoName, strerror } from "./ffi.ts";
import { NOTIFICATION_GROUPS, notificationToChange } from "./notifications.ts";
import * as sysctl from "./sysctl.ts";

export interface NetlinkDataplaneOptions {
  /** A name under /var/run/netns; absent means the namespace of this process. */
  readonly netns?: string;
  /** Receive buffer of the notification socket (bytes); default 32 MiB. Small values are for tests of overflow. */
  readonly notificationBufferBytes?: number;
}

export interface NetlinkDataplane extends Dataplane {
  readonly netns: string | undefined;
  /** `ip route change`: NLM_F_REPLACE without NLM_F_CREATE, which no Op sends (ENOENT when absent). */
  changeRoute(route: KernelRoute): Promise<OpResult>;
  /** A net.* sysctl of this namespace, e.g. "net.ipv4.nexthop_compat_mode". */
  getSysctl(name: string): Promise<string>;
  /**
   * Sets a net.* sysctl of this namespace. `net.ipv4.nexthop_compat_mode=0` makes a
   * nexthop group change cost O(1) instead of one route notification per route using it.
   */
  setSysctl(name: string, value: string): Promise<void>;
}

const ENOENT = 2;
const EOPNOTSUPP = 95;
const EINVAL = 22;

const OK: OpResult = { ok: true };
const CREATE_EXCL = NLM_F_CREATE | NLM_F_EXCL;
const CREATE_REPLACE = NLM_F_CREATE | NLM_F_REPLACE;

function errorResult(error: ErrorMessage): OpResult & { ok: false } {
  const errno = -error.error;
  return { ok: false, errno, code: errnoName(errno), message: error.extackMessage ?? strerror(errno) };
}

function protocolError(message: string): ErrorMessage {
  return {
    error: -EINVAL,
    request: { length: 16, type: RTM_GETROUTE, flags: 0, seq: 0, pid: 0 },
    extackMessage: message,
  };
}

function sameRouteKey(a: KernelRoute, b: KernelRoute): boolean {
  return a.family === b.family && a.table === b.table && a.dst === b.dst && a.metric === b.metric;
}

/** The netlink requests one op becomes (a key change is a delete then an add). */
function opRequests(op: Op, links: LinkTable): Request[] {
  switch (op.object) {
    case "route":
      switch (op.action) {
        case "add":
          return [
            {
              type: RTM_NEWROUTE,
              flags: CREATE_EXCL,
              body: { kind: "route", route: routeToMessage(op.to, links) },
            },
          ];
        case "replace":
          if (!sameRouteKey(op.from, op.to)) {
            return [
              { type: RTM_DELROUTE, flags: 0, body: { kind: "route", route: routeKeyMessage(op.from) } },
              {
                type: RTM_NEWROUTE,
                flags: CREATE_EXCL,
                body: { kind: "route", route: routeToMessage(op.to, links) },
              },
            ];
          }
          return [
            {
              type: RTM_NEWROUTE,
              flags: CREATE_REPLACE,
              body: { kind: "route", route: routeToMessage(op.to, links) },
            },
          ];
        case "delete":
          return [{ type: RTM_DELROUTE, flags: 0, body: { kind: "route", route: routeKeyMessage(op.from) } }];
      }
      break;
    case "nexthop":
      switch (op.action) {
        case "add":
          return [
            {
              type: RTM_NEWNEXTHOP,
              flags: CREATE_EXCL,
              body: { kind: "nexthop", nexthop: nexthopToMessage(op.to, links) },
            },
          ];
        case "replace":
          if (op.from.id !== op.to.id) {
            return [
              {
                type: RTM_DELNEXTHOP,
                flags: 0,
                body: { kind: "nexthop", nexthop: nexthopKeyMessage(op.from) },
              },
              {
                type: RTM_NEWNEXTHOP,
                flags: CREATE_EXCL,
                body: { kind: "nexthop", nexthop: nexthopToMessage(op.to, links) },
              },
            ];
          }
          return [
            {
              type: RTM_NEWNEXTHOP,
              flags: CREATE_REPLACE,
              body: { kind: "nexthop", nexthop: nexthopToMessage(op.to, links) },
            },
          ];
        case "delete":
          return [
            {
              type: RTM_DELNEXTHOP,
              flags: 0,
              body: { kind: "nexthop", nexthop: nexthopKeyMessage(op.from) },
            },
          ];
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

function opDevices(op: Op): string[] {
  const value = op.action === "delete" ? undefined : op.to;
  if (value === undefined) return [];
  if (op.object === "route") {
    const t = (value as KernelRoute).target;
    if (t.kind === "gateways") return t.nexthops.map((nh) => nh.dev);
    if (t.kind === "device") return [t.dev];
    return [];
  }
  if (op.object === "nexthop") {
    const nh = value as KernelNexthop;
    return nh.kind === "gateway" ? [nh.dev] : [];
  }
  return [];
}

function kernelMajorMinor(): [number, number] {
  const [major = 0, minor = 0] = release()
    .split(/[.-]/)
    .map((part) => Number.parseInt(part, 10));
  return [major, minor];
}

export async function createNetlinkDataplane(
  options: NetlinkDataplaneOptions = {},
): Promise<NetlinkDataplane> {
  const netns = options.netns;
  const connection = NetlinkConnection.open(netns !== undefined ? { netns } : {});
  const links = new LinkTable();
  const changes = new Subject<KernelChange>();
  let monitor: NetlinkConnection | undefined;
  let features: DataplaneFeatures | undefined;
  let closed = false;

  const live = (): void => {
    if (closed) throw new Error("netlink dataplane: closed");
  };

  const dumpStable = (request: Request): Promise<DumpResult> =>
    dumpWithRetries(() => connection.dump(request));

  const dumpLinks = async (): Promise<{ links: KernelLink[]; complete: boolean }> => {
    const result = await dumpStable({
      type: RTM_GETLINK,
      flags: 0,
      body: { kind: "link", link: { family: AF_UNSPEC, type: 0, index: 0, flags: 0, change: 0 } },
    });
    const found: KernelLink[] = [];
    for (const m of result.messages) {
      if (m.body.kind !== "link") continue;
      const link = messageToLink(m.body.link);
      if (link !== undefined) found.push(link);
    }
    links.replaceAll(found.map((l) => [l.index, l.name] as const));
    return { links: found, complete: !result.interrupted && result.error === undefined };
  };

  await dumpLinks();

  const list = async (scope: DumpScope): Promise<KernelSnapshot> => {
    live();
    const families = scope.families ?? [4, 6];
    let complete = true;
    const linkDump = await dumpLinks();
    complete &&= linkDump.complete;

    const routes: KernelRoute[] = [];
    // The kernel filters route dumps already (strict checking); this also covers rules, which it does not filter.
    const inScope = (object: { readonly table: number; readonly protocol: number }): boolean =>
      (scope.tables === undefined || scope.tables.includes(object.table)) &&
      (scope.protocol === undefined || scope.protocol === object.protocol);
    for (const family of families) {
      for (const table of scope.tables ?? [undefined]) {
        const result = await dumpStable({
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
              protocol: scope.protocol ?? 0,
              scope: 0,
              type: 0,
              flags: 0,
              ...(table !== undefined ? { tableId: table } : {}),
            },
          },
        });
        // A table that does not exist yet is simply empty.
        if (result.error !== undefined && !(table !== undefined && result.error.error === -ENOENT))
          complete = false;
        if (result.interrupted) complete = false;
        for (const m of result.messages) {
          if (m.body.kind !== "route") continue;
          const route = messageToRoute(m.body.route, links);
          if (route !== undefined && inScope(route)) routes.push(route);
        }
      }
    }

    const nexthops: KernelNexthop[] = [];
    const nhResult = await dumpStable({
      type: RTM_GETNEXTHOP,
      flags: 0,
      body: { kind: "nexthop", nexthop: { family: AF_UNSPEC, scope: 0, protocol: 0, flags: 0 } },
    });
    // Kernels without nexthop objects refuse the dump: there are none.
    const nhUnsupported =
      nhResult.error !== undefined &&
      (nhResult.error.error === -EOPNOTSUPP || nhResult.error.error === -EINVAL);
    if ((nhResult.error !== undefined && !nhUnsupported) || nhResult.interrupted) complete = false;
    for (const m of nhResult.messages) {
      if (m.body.kind !== "nexthop") continue;
      const nh = messageToNexthop(m.body.nexthop, links);
      if (nh === undefined) continue;
      if (scope.protocol !== undefined && nh.protocol !== scope.protocol) continue;
      if (nh.kind === "gateway" && !families.includes(nh.family)) continue;
      nexthops.push(nh);
    }
    nexthops.sort((a, b) => a.id - b.id);

    const rules: KernelRule[] = [];
    for (const family of families) {
      const result = await dumpStable({
        type: RTM_GETRULE,
        flags: 0,
        body: {
          kind: "rule",
          rule: { family: afOf(family), dstLen: 0, srcLen: 0, tos: 0, table: 0, action: 0, flags: 0 },
        },
      });
      if (result.error !== undefined || result.interrupted) complete = false;
      for (const m of result.messages) {
        if (m.body.kind !== "rule") continue;
        const rule = messageToRule(m.body.rule);
        if (rule !== undefined && inScope(rule)) rules.push(rule);
      }
    }

    const addresses: KernelAddress[] = [];
    const addrResult = await dumpStable({
      type: RTM_GETADDR,
      flags: 0,
      body: { kind: "address", address: { family: AF_UNSPEC, prefixLen: 0, flags: 0, scope: 0, index: 0 } },
    });
    if (addrResult.error !== undefined || addrResult.interrupted) complete = false;
    for (const m of addrResult.messages) {
      if (m.body.kind !== "address") continue;
      const family = familyOfAf(m.body.address.family);
      if (family === undefined || !families.includes(family)) continue;
      const address = messageToAddress(m.body.address, links);
      if (address !== undefined) addresses.push(address);
    }

    return { routes, nexthops, rules, links: linkDump.links, addresses, complete };
  };

  const apply = async (ops: readonly Op[]): Promise<OpResult[]> => {
    live();
    if (ops.some((op) => opDevices(op).some((dev) => links.indexOf(dev) === undefined))) await dumpLinks();
    const results: (OpResult | undefined)[] = new Array(ops.length).fill(undefined);
    const owners: number[] = [];
    function* requests(): Generator<Request> {
      for (let index = 0; index < ops.length; index++) {
        let built: Request[];
        try {
          built = opRequests(ops[index] as Op, links);
        } catch (error) {
          if (!(error instanceof UnknownDeviceError)) throw error;
          results[index] = { ok: false, errno: ENODEV, code: "ENODEV", message: error.message };
          continue;
        }
        for (const request of built) {
          owners.push(index);
          yield request;
        }
      }
    }
    await connection.batch(requests(), (i, error) => {
      const owner = owners[i] as number;
      // The first failure among an op's requests is its result.
      if (results[owner] === undefined) results[owner] = errorResult(error);
    });
    return results.map((r) => r ?? OK);
  };

  const routeGet = async (query: FlowQuery, fibMatch: boolean): Promise<Message | ErrorMessage> => {
    const { replies, error } = await connection.request({
      type: RTM_GETROUTE,
      flags: 0,
      body: { kind: "route", route: lookupMessage(query, fibMatch) },
    });
    if (error !== undefined) return error;
    const reply = replies.find((m) => m.body.kind === "route");
    return reply ?? protocolError("route get: the kernel sent no route");
  };

  const lookup = async (query: FlowQuery): Promise<LookupResult> => {
    live();
    const family: Family = query.dst.includes(":") ? 6 : 4;
    const resolved = await routeGet(query, false);
    if (!("body" in resolved)) return errorResult(resolved);
    const matched = await routeGet(query, true);
    if (!("body" in matched)) return errorResult(matched);
    if (resolved.body.kind !== "route" || matched.body.kind !== "route")
      return errorResult({
        error: -EINVAL,
        request: { length: 16, type: RTM_GETROUTE, flags: 0, seq: 0, pid: 0 },
      });
    const r = resolved.body.route;
    const f = matched.body.route;
    const table = f.tableId ?? f.table;
    if (query.table !== undefined && query.table !== table) {
      // RTM_GETROUTE always walks the policy rules; Linux has no "look up in table N" request.
      return {
        ok: false,
        errno: EOPNOTSUPP,
        code: "EOPNOTSUPP",
        message: `the policy rules chose table ${table}; a lookup confined to table ${query.table} is not possible through RTM_GETROUTE`,
      };
    }
    const result: LookupResult = {
      ok: true,
      table,
      dst: bytesToPrefix(family, f.dst, f.dstLen),
      dev: links.nameOf(r.oif ?? 0),
      ...(r.gateway !== undefined ? { gateway: bytesToIp(r.gateway) } : {}),
    };
    return result;
  };

  const watch = (): Observable<KernelChange> => {
    if (monitor === undefined && !closed) {
      monitor = NetlinkConnection.open({
        ...(netns !== undefined ? { netns } : {}),
        groups: NOTIFICATION_GROUPS,
        ...(options.notificationBufferBytes !== undefined
          ? { receiveBuffer: options.notificationBufferBytes }
          : {}),
        onNotification: (message) => {
          const change = notificationToChange(message, links);
          if (change !== undefined) changes.next(change);
        },
        onOverflow: () => changes.next({ kind: "overflow" }),
      });
    }
    return changes.asObservable();
  };

  const detectFeatures = async (): Promise<DataplaneFeatures> => {
    live();
    if (features !== undefined) return features;
    const probe = await connection.dump({
      type: RTM_GETNEXTHOP,
      flags: 0,
      body: { kind: "nexthop", nexthop: { family: AF_UNSPEC, scope: 0, protocol: 0, flags: 0 } },
    });
    const nexthopObjects = probe.error === undefined;
    const [major, minor] = kernelMajorMinor();
    // Resilient groups came in 5.13; there is no side-effect-free probe for them.
    const resilientGroups = nexthopObjects && (major > 5 || (major === 5 && minor >= 13));
    features = { nexthopObjects, resilientGroups };
    return features;
  };

  const changeRoute = async (route: KernelRoute): Promise<OpResult> => {
    live();
    let result: OpResult = OK;
    const request: Request = {
      type: RTM_NEWROUTE,
      flags: NLM_F_REPLACE,
      body: { kind: "route", route: routeToMessage(route, links) },
    };
    await connection.batch([request], (_, error) => {
      result = errorResult(error);
    });
    return result;
  };

  return {
    netns,
    changeRoute,
    features: detectFeatures,
    list,
    apply,
    watch,
    lookup,
    getMultipathHashPolicy: async (family) => {
      live();
      return sysctl.getMultipathHashPolicy(netns, family);
    },
    setMultipathHashPolicy: async (family: Family, policy: MultipathHashPolicy) => {
      live();
      sysctl.setMultipathHashPolicy(netns, family, policy);
    },
    getSysctl: async (name) => {
      live();
      return sysctl.readSysctl(netns, sysctl.netSysctlPath(name));
    },
    setSysctl: async (name, value) => {
      live();
      sysctl.writeSysctl(netns, sysctl.netSysctlPath(name), value);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      connection.close();
      monitor?.close();
      changes.complete();
    },
  };
}
