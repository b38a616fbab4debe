/**
 * The rtnetlink Dataplane: one instance per network namespace (the current one, or
 * a named one under /var/run/netns). Two sockets: one for requests and dumps, one
 * (opened on the first watch()) for multicast notifications.
 */
import type {
  Dataplane,
  DataplaneFeatures,
  Family,
  KernelChange,
  KernelRoute,
  MultipathHashPolicy,
  Op,
  OpResult,
} from "@kroute/core";
import { type Observable, Subject } from "rxjs";
import { BatchDumps } from "./batch-dumps.ts";
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_REPLACE, RTM_NEWROUTE } from "./codec/constants.ts";
import { NetlinkConnection, type Request } from "./connection.ts";
import { LinkTable } from "./domain/names.ts";
import { routeToMessage } from "./domain/routes.ts";
import { probeFeatures } from "./features.ts";
import { lookupFlow } from "./lookup.ts";
import { opsOnOthersNexthops } from "./nexthop-guard.ts";
import { deletesOfNexthopsOthersUse } from "./nexthop-users-guard.ts";
import { NOTIFICATION_GROUPS, notificationToChange } from "./notifications.ts";
import { errorResult, namesUnknownDevice, OK, opRequests, refusedBeforeSending } from "./ops.ts";
import { replacesLedByOthers } from "./replace-guard.ts";
import { dumpLinks, dumpSnapshot } from "./snapshot.ts";
import * as sysctl from "./sysctl.ts";

export interface NetlinkDataplaneOptions {
  /** A name under /var/run/netns; absent means the namespace of this process. */
  readonly netns?: string;
  /** Receive buffer of the notification socket (bytes); default 32 MiB. Small values are for tests of overflow. */
  readonly notificationBufferBytes?: number;
}

/** Route requests other programs send and no Op does (see OTHERS_ROUTE_FLAGS). */
export type OthersRouteRequest = "change" | "append" | "prepend";

/**
 * As iproute2 sends them: `ip route change` is NLM_F_REPLACE without NLM_F_CREATE
 * (ENOENT when the key is absent); `append` and `prepend` create without NLM_F_EXCL,
 * so a taken key gets a second route.
 */
const OTHERS_ROUTE_FLAGS: Record<OthersRouteRequest, number> = {
  change: NLM_F_REPLACE,
  append: NLM_F_CREATE | NLM_F_APPEND,
  prepend: NLM_F_CREATE,
};

export interface NetlinkDataplane extends Dataplane {
  readonly netns: string | undefined;
  /** A route request as other programs send it (OthersRouteRequest), for tests of how Linux answers. */
  routeRequest(route: KernelRoute, request: OthersRouteRequest): Promise<OpResult>;
  /** A net.* sysctl of this namespace, e.g. "net.ipv4.nexthop_compat_mode". */
  getSysctl(name: string): Promise<string>;
  /**
   * Sets a net.* sysctl of this namespace. `net.ipv4.nexthop_compat_mode=0` makes a
   * nexthop group change cost O(1) instead of one route notification per route using it.
   */
  setSysctl(name: string, value: string): Promise<void>;
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

  try {
    await dumpLinks(connection, links);
  } catch (error) {
    connection.close();
    throw error;
  }

  const apply = async (ops: readonly Op[]): Promise<OpResult[]> => {
    live();
    if (ops.some((op) => namesUnknownDevice(op, links))) {
      await dumpLinks(connection, links);
    }
    const dumps = new BatchDumps(connection);
    const refused = new Map([
      ...(await replacesLedByOthers(dumps, links, ops)),
      ...(await opsOnOthersNexthops(dumps, ops)),
      ...(await deletesOfNexthopsOthersUse(dumps, ops)),
    ]);
    const results: (OpResult | undefined)[] = ops.map((_, index) => refused.get(index));
    const owners: number[] = [];
    // Requests are built lazily, chunk by chunk, while earlier chunks are in the kernel.
    function* requests(): Generator<Request> {
      for (let index = 0; index < ops.length; index++) {
        if (refused.has(index)) continue;
        let built: Request[];
        try {
          built = opRequests(ops[index] as Op, links);
        } catch (error) {
          const refusal = refusedBeforeSending(error);
          if (refusal === undefined) throw error;
          results[index] = refusal;
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

  const routeRequest = async (route: KernelRoute, kind: OthersRouteRequest): Promise<OpResult> => {
    live();
    let result: OpResult = OK;
    let message: ReturnType<typeof routeToMessage>;
    try {
      message = routeToMessage(route, links);
    } catch (error) {
      const refusal = refusedBeforeSending(error);
      if (refusal === undefined) throw error;
      return refusal;
    }
    const request: Request = {
      type: RTM_NEWROUTE,
      flags: OTHERS_ROUTE_FLAGS[kind],
      body: { kind: "route", route: message },
    };
    await connection.batch([request], (_, error) => {
      result = errorResult(error);
    });
    return result;
  };

  return {
    netns,
    routeRequest,
    features: async () => {
      live();
      features ??= await probeFeatures(connection);
      return features;
    },
    list: async (scope) => {
      live();
      return dumpSnapshot(connection, links, scope);
    },
    apply,
    watch,
    lookup: async (query) => {
      live();
      return lookupFlow(connection, links, query);
    },
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
