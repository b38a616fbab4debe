/**
 * An in-memory Linux kernel, one per simulated node: the Dataplane contract plus
 * host control (links, carrier, addresses), fault injection, a manual clock for
 * resilient groups' idle timers, and synchronous fast paths for the simulator.
 */
import {
  type Dataplane,
  type DataplaneFeatures,
  type DumpScope,
  type Family,
  type FlowQuery,
  type IpAddr,
  type KernelChange,
  type KernelRoute,
  type KernelSnapshot,
  type LookupResult,
  type MultipathHashPolicy,
  type Op,
  type OpResult,
  routeKey,
} from "@kroute/core";
import { type Observable, Subject } from "rxjs";
import { removeAddress } from "./address-removal.ts";
import { dump } from "./dump.ts";
import { type ErrnoCode, errnoCode, kernelError } from "./errno.ts";
import type { HostDescription } from "./host-description.ts";
import * as links from "./link-events.ts";
import { lookupFlow } from "./lookup.ts";
import { addNexthop, deleteNexthop, replaceNexthop } from "./nexthop-ops.ts";
import { replaceLedByOther } from "./replace-guard.ts";
import { rebalance } from "./resilient-buckets.ts";
import {
  addRoute,
  deleteRoute,
  newRoute,
  type RouteFlags,
  replaceRoute,
  unsendableTos,
} from "./route-ops.ts";
import { removeAnnouncedRoute } from "./route-removal.ts";
import { addRule, defaultRules, deleteRule } from "./rule-ops.ts";
import type { KernelState } from "./state.ts";

export interface FakeKernel extends Dataplane {
  applySync(ops: readonly Op[]): OpResult[];
  listSync(scope?: DumpScope): KernelSnapshot;
  lookupSync(query: FlowQuery): LookupResult;
  /**
   * A route request as other programs send it and kroute never does: `ip route change`
   * (NLM_F_REPLACE without NLM_F_CREATE: ENOENT when the key is absent), `append` or
   * `prepend` (a second route at a taken key).
   */
  routeRequestSync(route: KernelRoute, request: OthersRouteRequest): OpResult;
  /**
   * Another program's route deletion as Linux announced it, made again (a replay): the
   * route the announcement describes goes, not the first of its owner at the key
   * (route-removal.ts). ESRCH when no route here is that one.
   */
  removeAnnouncedRouteSync(route: KernelRoute): OpResult;

  // Host control: what an operator, a cable or a DHCP client does. Misuse throws.
  addLink(name: string): void;
  deleteLink(name: string): void;
  setCarrier(name: string, carrier: boolean): void;
  setAdminUp(name: string, up: boolean): void;
  addAddress(dev: string, ip: IpAddr, prefixLength: number): void;
  /** `ip address del`, with what Linux removes with the address (address-removal.ts). */
  removeAddress(dev: string, ip: IpAddr, prefixLength: number): void;
  /** net.ipv4.conf.all.promote_secondaries (see HostDescription.promoteSecondaries). */
  setPromoteSecondaries(promote: boolean): void;

  // Fault injection.
  /** The next `count` ops fail with this errno (number or name), changing nothing. */
  failNext(count: number, errno: number | string): void;
  /** The next dump returns part of the state and `complete: false`. */
  interruptNextDump(): void;
  /** Up to `count` notifications of the next burst (one request or host event) are lost; watchers get one `overflow` after it. */
  dropNotifications(count: number): void;

  // Time, for resilient groups: it advances only when told.
  now(): number;
  advanceClock(seconds: number): void;
  /** The member id serving each bucket of a resilient group (for tests). */
  bucketsOf(groupId: number): readonly number[] | undefined;
}

export type OthersRouteRequest = "change" | "append" | "prepend";

const REQUEST_FLAGS: Record<OthersRouteRequest, RouteFlags> = {
  change: "replace-only",
  append: "append",
  prepend: "prepend",
};

/** Both requests of a move are made; the op reports the first refusal. */
function firstFailure(first: OpResult, second: OpResult): OpResult {
  return first.ok ? second : first;
}

/** A host description or caller in plain JavaScript may pass anything. */
function promoteSecondariesSetting(value: unknown): boolean {
  if (typeof value !== "boolean")
    throw new Error(`promoteSecondaries must be true or false: ${JSON.stringify(value)}`);
  return value;
}

const DEFAULT_FEATURES: DataplaneFeatures = { nexthopObjects: true, resilientGroups: true };

export function createFakeKernel(host: HostDescription = {}): FakeKernel {
  const changes = new Subject<KernelChange>();
  let pendingFailures: { count: number; code: ErrnoCode } = { count: 0, code: "EINVAL" };
  let interruptDump = false;
  let notificationsToDrop = 0;
  let closed = false;

  let droppedInBurst = 0;
  const emit = (change: KernelChange): void => {
    if (notificationsToDrop > 0) {
      notificationsToDrop--;
      droppedInBurst++;
      return;
    }
    changes.next(change);
  };
  /**
   * Notifications caused by one request or host event form a burst. When some of a
   * burst were dropped, the listener learns it after the burst (as recv() returns
   * ENOBUFS once the socket buffer has overflowed), and later ones flow again.
   */
  const burst = <T>(work: () => T): T => {
    try {
      return work();
    } finally {
      notificationsToDrop = 0;
      if (droppedInBurst > 0) {
        droppedInBurst = 0;
        changes.next({ kind: "overflow" });
      }
    }
  };

  const state: KernelState = {
    links: new Map(),
    nextLinkIndex: 1,
    addresses: [],
    byDestination: new Map(),
    prefixLengths: new Map(),
    byNexthop: new Map(),
    deviceRoutes: new Set(),
    deadHops: new Map(),
    onlinkVerdicts: { 4: new Map(), 6: new Map() },
    tables: new Set(["4|254", "4|255", "6|254", "6|255"]),
    nexthops: new Map(),
    buckets: new Map(),
    rules: defaultRules(),
    hashPolicy: { 4: host.multipathHashPolicy?.[4] ?? 0, 6: host.multipathHashPolicy?.[6] ?? 0 },
    features: host.features ?? DEFAULT_FEATURES,
    promoteSecondaries: promoteSecondariesSetting(host.promoteSecondaries ?? true),
    now: 0,
    emit,
  };

  links.addLink(state, "lo");
  for (const link of host.links ?? []) links.addLink(state, link.name, link.up ?? true, link.carrier ?? true);
  for (const address of host.addresses ?? [])
    links.addAddress(state, address.dev, address.ip, address.prefixLength);
  for (const route of host.routes ?? []) {
    const result = addRoute(state, route);
    if (!result.ok) throw new Error(`host description: route ${route.dst} refused: ${result.message}`);
  }
  for (const rule of host.rules ?? []) {
    const result = addRule(state, rule);
    if (!result.ok) throw new Error(`host description: rule ${rule.priority} refused: ${result.message}`);
  }

  const applyOne = (op: Op): OpResult => {
    if (pendingFailures.count > 0) {
      pendingFailures = { ...pendingFailures, count: pendingFailures.count - 1 };
      return kernelError(pendingFailures.code);
    }
    switch (op.object) {
      case "route":
        switch (op.action) {
          case "add":
            return addRoute(state, op.to);
          case "replace":
            // A replace naming another key is a move, as the netlink driver sends it; a TOS
            // no request can carry refuses the move before its delete, as there.
            return routeKey(op.from) === routeKey(op.to)
              ? (replaceLedByOther(state, op.from) ?? replaceRoute(state, op.to))
              : (unsendableTos(op.from) ??
                  unsendableTos(op.to) ??
                  firstFailure(deleteRoute(state, op.from), addRoute(state, op.to)));
          case "delete":
            return deleteRoute(state, op.from);
        }
        break;
      case "nexthop":
        switch (op.action) {
          case "add":
            return addNexthop(state, op.to);
          case "replace":
            return op.from.id === op.to.id
              ? replaceNexthop(state, op.to)
              : firstFailure(deleteNexthop(state, op.from), addNexthop(state, op.to));
          case "delete":
            return deleteNexthop(state, op.from);
        }
        break;
      case "rule":
        switch (op.action) {
          case "add":
            return addRule(state, op.to);
          case "delete":
            return deleteRule(state, op.from);
        }
    }
  };

  const listSync = (scope: DumpScope = {}): KernelSnapshot => {
    const snapshot = dump(state, scope);
    if (!interruptDump) return snapshot;
    interruptDump = false;
    // NLM_F_DUMP_INTR: the reader got some of the objects and must not trust the rest.
    const half = <T>(items: readonly T[]): T[] => items.filter((_, index) => index % 2 === 0);
    return {
      ...snapshot,
      routes: half(snapshot.routes),
      nexthops: half(snapshot.nexthops),
      rules: half(snapshot.rules),
      complete: false,
    };
  };

  const live = async <T>(work: () => T): Promise<T> => {
    if (closed) throw new Error("fake kernel: dataplane is closed");
    return work();
  };

  return {
    applySync: (ops) => burst(() => ops.map(applyOne)),
    listSync,
    lookupSync: (query) => lookupFlow(state, query),
    routeRequestSync: (route, request) => burst(() => newRoute(state, route, REQUEST_FLAGS[request])),
    removeAnnouncedRouteSync: (route) => burst(() => removeAnnouncedRoute(state, route)),

    features: () => live(() => state.features),
    list: (scope) => live(() => listSync(scope)),
    apply: (ops) => live(() => burst(() => ops.map(applyOne))),
    watch: (): Observable<KernelChange> => changes.asObservable(),
    lookup: (query) => live(() => lookupFlow(state, query)),
    getMultipathHashPolicy: (family: Family) => live(() => state.hashPolicy[family]),
    setMultipathHashPolicy: (family: Family, policy: MultipathHashPolicy) =>
      live(() => {
        if (policy !== 0 && policy !== 1 && policy !== 2) {
          throw new Error(`multipath hash policy must be 0, 1 or 2: ${JSON.stringify(policy)}`);
        }
        state.hashPolicy[family] = policy;
      }),
    close: async () => {
      if (closed) return;
      closed = true;
      changes.complete();
    },

    addLink: (name) => burst(() => links.addLink(state, name)),
    deleteLink: (name) => burst(() => links.deleteLink(state, name)),
    setCarrier: (name, carrier) => burst(() => links.setCarrier(state, name, carrier)),
    setAdminUp: (name, up) => burst(() => links.setAdminUp(state, name, up)),
    addAddress: (dev, ip, prefixLength) => burst(() => links.addAddress(state, dev, ip, prefixLength)),
    removeAddress: (dev, ip, prefixLength) => burst(() => removeAddress(state, dev, ip, prefixLength)),
    setPromoteSecondaries: (promote) => {
      state.promoteSecondaries = promoteSecondariesSetting(promote);
    },

    failNext: (count, errno) => {
      if (!Number.isInteger(count) || count < 0) throw new Error(`failNext: count must be >= 0: ${count}`);
      pendingFailures = { count, code: errnoCode(errno) };
    },
    interruptNextDump: () => {
      interruptDump = true;
    },
    dropNotifications: (count) => {
      if (!Number.isInteger(count) || count < 1)
        throw new Error(`dropNotifications: count must be >= 1: ${count}`);
      notificationsToDrop = count;
    },

    now: () => state.now,
    advanceClock: (seconds) => {
      if (!(seconds >= 0)) throw new Error(`advanceClock: seconds must be >= 0: ${seconds}`);
      state.now += seconds;
      // The kernel's periodic upkeep of resilient groups.
      for (const [id, table] of state.buckets) {
        const group = state.nexthops.get(id);
        if (group?.kind === "group" && group.resilient !== undefined) {
          rebalance(table, group.members, group.resilient, state.now);
        }
      }
    },
    bucketsOf: (groupId) => {
      const owners = state.buckets.get(groupId)?.owners;
      return owners === undefined ? undefined : [...owners];
    },
  };
}
