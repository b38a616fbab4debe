/**
 * `host/observed` as a stream: the kernel part (original default gateways, node
 * addresses) is read at start, again shortly after any change that can alter it, and
 * again when an original default route expires (Linux tells nothing then); a read
 * that comes back incomplete is tried again, never taken for facts; the
 * resolvers are re-read periodically (a file that cannot be read is told once); the
 * API server endpoints come from the Kubernetes side. A new event leaves only when the
 * facts actually changed.
 */
import type { Dataplane, DefaultGateway, IpAddr, KernelChange } from "@kroute/core";
import {
  asyncScheduler,
  combineLatest,
  debounceTime,
  defer,
  distinctUntilChanged,
  EMPTY,
  expand,
  filter,
  from,
  map,
  type Observable,
  retry,
  type SchedulerLike,
  startWith,
  switchMap,
  timer,
} from "rxjs";
import {
  type HostFactsOptions,
  type HostObservedBody,
  hostObserved,
  kernelHostFacts,
} from "../host-facts.ts";
import { hostResolvers } from "../host-resolvers.ts";

/** The longest wait between two reads of the main table that keep failing. */
const READ_RETRY_MAX_MS = 60_000;

/**
 * The re-read at an expiry waits this much longer: the kernel gives the time left in
 * 10 ms ticks, truncated, and a route read less than a tick either side of its expiry
 * reads as one that never expires.
 */
const EXPIRY_GRACE_MS = 1000;

/**
 * An expiry further away is looked at again within this time: a timer cannot wait more
 * than 24.8 days (a longer one fires at once), and a read that finds the route still
 * there only waits again.
 */
const EXPIRY_WAIT_MAX_MS = 3_600_000;

/** The earliest expiry of `gateways` (ms since the epoch), if one expires. */
function earliestExpiry(gateways: readonly DefaultGateway[]): number | undefined {
  const times = gateways.flatMap((g) => (g.expiresAt === undefined ? [] : [Date.parse(g.expiresAt)]));
  return times.length === 0 ? undefined : Math.min(...times);
}

export interface HostSourceOptions extends HostFactsOptions {
  /** kroute's protocols (core krouteProtocols): its default routes are never the original. */
  readonly protocols: readonly number[];
  /** The host's resolv.conf files, as host paths, read under `hostRoot` (settings/host-files.ts). */
  readonly resolvConf: readonly string[];
  readonly hostRoot: string;
  readonly apiServers$: Observable<readonly IpAddr[]>;
  /** How often resolv.conf is re-read. */
  readonly dnsRefreshMs: number;
  /** Quiet time after a relevant kernel change before re-reading the main table. */
  readonly settleMs?: number;
  /** A read of the main table failed or came back incomplete (it is tried again). */
  readonly onReadError?: (error: unknown) => void;
  /** A resolv.conf that could not be read (host-resolvers.ts); told once until a read no longer has it. */
  readonly onResolvConfProblem?: (problem: string) => void;
  readonly scheduler?: SchedulerLike;
}

/** Changes that can move the original default route or the node's addresses. */
function affectsHostFacts(change: KernelChange, protocols: readonly number[]): boolean {
  switch (change.kind) {
    case "address":
    case "link":
    case "overflow":
      return true;
    case "route":
      return (
        change.route.table === 254 &&
        change.route.dst.endsWith("/0") &&
        !protocols.includes(change.route.protocol)
      );
    case "nexthop":
      return !protocols.includes(change.nexthop.protocol);
    case "rule":
      return false;
  }
}

export function hostSource(dataplane: Dataplane, options: HostSourceOptions): Observable<HostObservedBody> {
  const scheduler = options.scheduler ?? asyncScheduler;
  // A failed read is tried again, the wait doubling from the settle time to a minute,
  // until one is whole.
  const read$ = defer(() => kernelHostFacts(dataplane, options.protocols, () => scheduler.now())).pipe(
    retry({
      delay: (error: unknown, attempt: number) => {
        options.onReadError?.(error);
        const settleMs = options.settleMs ?? 200;
        return timer(Math.min(READ_RETRY_MAX_MS, settleMs * 2 ** Math.min(attempt - 1, 20)), scheduler);
      },
    }),
  );
  const kernel$ = dataplane.watch().pipe(
    filter((change) => affectsHostFacts(change, options.protocols)),
    debounceTime(options.settleMs ?? 200, scheduler),
    startWith(undefined),
    // Each read is followed by another at the earliest expiry it found, until one finds
    // none: an expired route stays listed, unused, with no word from the kernel until
    // its garbage collector deletes it, and the override would keep the dead router as
    // the original meanwhile. A change starts over from a fresh read.
    switchMap(() =>
      read$.pipe(
        expand((facts) => {
          const expiry = earliestExpiry(facts.defaultGateways);
          if (expiry === undefined) return EMPTY;
          const wait = Math.min(EXPIRY_WAIT_MAX_MS, Math.max(0, expiry + EXPIRY_GRACE_MS - scheduler.now()));
          return timer(wait, scheduler).pipe(switchMap(() => read$));
        }),
      ),
    ),
  );
  const dns$ = defer(() => {
    let lastProblems = new Set<string>();
    return timer(0, options.dnsRefreshMs, scheduler).pipe(
      switchMap(() => from(hostResolvers(options.resolvConf, options.hostRoot))),
      map(({ nameservers, problems }) => {
        for (const problem of problems) {
          if (!lastProblems.has(problem)) options.onResolvConfProblem?.(problem);
        }
        lastProblems = new Set(problems);
        return nameservers;
      }),
    );
  });
  return combineLatest([kernel$, dns$, options.apiServers$]).pipe(
    map(([kernel, dns, apiServers]) => hostObserved(options, kernel, dns, apiServers)),
    distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)),
  );
}
