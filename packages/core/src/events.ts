/**
 * Every input the engine consumes is one of these events. The JSON Lines event log
 * (format version 1) is the serialised form of exactly these objects.
 *
 * Route events are cluster-wide; node-scoped events carry `node`.
 */
import type { Family, IpAddr, Prefix } from "./ip.ts";
import type { KernelChange, KernelSnapshot, Op, OpResult } from "./kernel.ts";
import type { RouteObject } from "./route.ts";
import type { EngineSettings } from "./settings.ts";

interface EventBase {
  readonly v: 1;
  readonly seq: number;
  /** ISO-8601; the only clock the core ever reads. */
  readonly at: string;
}

export interface DefaultGateway {
  readonly via: IpAddr;
  readonly dev: string;
  /** Metric of the original default route; absent = 0. */
  readonly metric?: number;
  /**
   * Family of the default route, when it is not the gateway's own: 4 for an IPv4 default
   * route via an IPv6 next hop (RFC 5549, `default via inet6 fe80::1`, as BGP-unnumbered
   * fabrics give hosts). Absent = the gateway's family (defaultRouteFamily).
   */
  readonly family?: Family;
  /**
   * When the default route expires (ISO time, to the second): an IPv6 route learned from
   * a router advertisement stops being used then unless the router advertises it again.
   * The agent reads the host again at that time; a route already expired is never
   * reported. Absent: the route does not expire.
   */
  readonly expiresAt?: string;
}

export interface HostAddress {
  readonly ip: IpAddr;
  readonly dev: string;
  /** Length of the connected network; absent = 24 (IPv4) or 64 (IPv6). */
  readonly prefixLength?: number;
}

export type EngineEvent =
  | (EventBase & { readonly type: "route/upserted"; readonly route: RouteObject })
  | (EventBase & { readonly type: "route/deleted"; readonly name: string })
  /** A full snapshot after a (re)list: replaces the whole Route slice. */
  | (EventBase & { readonly type: "route/resynced"; readonly routes: readonly RouteObject[] })
  | (EventBase & {
      readonly type: "node/observed";
      readonly node: string;
      readonly labels: Readonly<Record<string, string>>;
    })
  | (EventBase & {
      readonly type: "host/observed";
      readonly node: string;
      readonly defaultGateways: readonly DefaultGateway[];
      readonly addresses: readonly HostAddress[];
      readonly dns: readonly IpAddr[];
      readonly apiServers: readonly IpAddr[];
      /** Extra protected destinations: metadata address, configured extras. */
      readonly protect: readonly Prefix[];
    })
  | (EventBase & {
      readonly type: "probe/result";
      readonly node: string;
      readonly gateway: IpAddr;
      readonly up: boolean;
      readonly rttMs?: number;
    })
  | (EventBase & {
      readonly type: "agent/configured";
      readonly node: string;
      readonly settings: EngineSettings;
    })
  /** A full dump of what kroute may own (its protocol, its nexthop range), plus links and addresses. */
  | (EventBase & {
      readonly type: "kernel/observed";
      readonly node: string;
      readonly snapshot: KernelSnapshot;
    })
  /** One kernel change notification. */
  | (EventBase & { readonly type: "kernel/changed"; readonly node: string; readonly change: KernelChange })
  /** What the driver answered for each op of one apply. */
  | (EventBase & {
      readonly type: "dataplane/applied";
      readonly node: string;
      readonly results: readonly { readonly op: Op; readonly result: OpResult }[];
      /**
       * Indices of successful results whose op a kernel notification had already echoed
       * when the answer came (engine.ts, echo.ts): the owned state follows the
       * notifications for those, not the result.
       */
      readonly echoed?: readonly number[];
    })
  /** A timer fired (retry backoff, periodic resync): time passes only through events. */
  | (EventBase & { readonly type: "timer/fired"; readonly node: string; readonly timer: "retry" | "resync" });

export type EventType = EngineEvent["type"];
export type EventOf<T extends EventType> = Extract<EngineEvent, { type: T }>;

/** Events without the log envelope, as sources produce them before sequencing. */
export type EventBody = EngineEvent extends infer E
  ? E extends EngineEvent
    ? Omit<E, "v" | "seq" | "at">
    : never
  : never;
