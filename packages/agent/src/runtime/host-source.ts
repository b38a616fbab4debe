/**
 * `host/observed` as a stream: the kernel part (original default gateways, node
 * addresses) is read at start and again shortly after any change that can alter it;
 * a read that comes back incomplete is tried again, never taken for facts; the
 * resolvers are re-read periodically (a file that cannot be read is told once); the
 * API server endpoints come from the Kubernetes side. A new event leaves only when the
 * facts actually changed.
 */
import type { Dataplane, IpAddr, KernelChange } from "@kroute/core";
import {
  asyncScheduler,
  combineLatest,
  debounceTime,
  defer,
  distinctUntilChanged,
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

export interface HostSourceOptions extends HostFactsOptions {
  readonly protocol: number;
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
function affectsHostFacts(change: KernelChange, protocol: number): boolean {
  switch (change.kind) {
    case "address":
    case "link":
    case "overflow":
      return true;
    case "route":
      return (
        change.route.table === 254 && change.route.dst.endsWith("/0") && change.route.protocol !== protocol
      );
    case "nexthop":
      return change.nexthop.protocol !== protocol;
    case "rule":
      return false;
  }
}

export function hostSource(dataplane: Dataplane, options: HostSourceOptions): Observable<HostObservedBody> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const kernel$ = dataplane.watch().pipe(
    filter((change) => affectsHostFacts(change, options.protocol)),
    debounceTime(options.settleMs ?? 200, scheduler),
    startWith(undefined),
    // A failed read is tried again, the wait doubling from the settle time to a minute,
    // until one is whole.
    switchMap(() =>
      defer(() => kernelHostFacts(dataplane, options.protocol)).pipe(
        retry({
          delay: (error: unknown, attempt: number) => {
            options.onReadError?.(error);
            const settleMs = options.settleMs ?? 200;
            return timer(Math.min(READ_RETRY_MAX_MS, settleMs * 2 ** Math.min(attempt - 1, 20)), scheduler);
          },
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
