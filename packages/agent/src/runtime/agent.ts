/**
 * startAgent: the whole node agent in-process, wired from its parts. Tests and the
 * simulator run it this way (with an injected dataplane and cluster sources); main.ts
 * runs it with the netlink driver and the Kubernetes API.
 *
 * Order at start matters for zero churn across restarts: the kernel is dumped before
 * the engine starts, and `agent/configured` then `kernel/observed` are its first
 * events, so the engine adopts what the kernel already holds before any Route arrives;
 * core prunes stale routes only once every source has synced (canPrune).
 */
import {
  createEngine,
  type Dataplane,
  desiredTable,
  type EngineStep,
  type EventBody,
  gatewayStatuses,
  type IpAddr,
  krouteProtocols,
  type NodeState,
  type Op,
  type OpResult,
} from "@kroute/core";
import { createIcmpProber, createNetlinkDataplane, releaseFreeMemory } from "@kroute/driver-netlink";
import {
  audit,
  auditTime,
  BehaviorSubject,
  concat,
  merge,
  type Observable,
  of,
  type Subscription,
  share,
  timer,
} from "rxjs";
import { failStaticLog } from "../fail-static.ts";
import { gatewayDevices, type ProbeFn, trackGatewayHealth } from "../health/index.ts";
import { type HttpEndpoints, startHttp } from "../http.ts";
import { createLogger, type Logger } from "../log.ts";
import { type AgentMetrics, createMetrics } from "../metrics.ts";
import { outcomeLog } from "../outcome-log.ts";
import { type AgentSettings, SettingsError } from "../settings.ts";
import { changesFromNow } from "./changes-from-now.ts";
import { dryRunDataplane } from "./dry-run.ts";
import { chooseEngineSettings } from "./features.ts";
import { hostSource } from "./host-source.ts";
import { idleCollector } from "./idle-gc.ts";
import { keptNexthopsLog } from "./kept-nexthops-log.ts";
import { kernelSource } from "./kernel-source.ts";
import { KernelSync } from "./kernel-sync.ts";
import { type EventRecorder, openEventRecorder } from "./recorder.ts";
import { reportCadence } from "./report-cadence.ts";
import type { StatusSink } from "./status.ts";

/**
 * How often the host's resolv.conf files are read again. dhclient, NetworkManager and
 * resolvconf rewrite them when the resolvers change; until the next read the new ones
 * are not kept on the original gateway under an override. A few small files: cheap to
 * read this often.
 */
const RESOLVERS_REFRESH_MS = 10_000;

/** What the agent needs from the Kubernetes side, as event streams. */
export interface ClusterSources {
  /** route/upserted, route/deleted and route/resynced (after every list). */
  readonly routes: Observable<EventBody>;
  /** node/observed for this node. */
  readonly node: Observable<EventBody>;
  /** The API servers' real endpoint addresses (latest list). */
  readonly apiServers: Observable<readonly IpAddr[]>;
  /** Where outcomes go back to the cluster (Route status, NodeRouteTable, Events). */
  readonly status?: readonly StatusSink[];
  /** Flushes and stops the status writers. */
  close?(): Promise<void>;
}

export interface AgentDeps {
  /** The cluster side: streams, or a factory given the agent's metrics (for watch restart counts). */
  readonly cluster: ClusterSources | ((metrics: AgentMetrics) => ClusterSources);
  /** Default: the netlink driver in settings.netns (or this process's namespace). */
  readonly dataplane?: Dataplane;
  /** Default: ICMP echo through the netlink driver's prober. */
  readonly probe?: ProbeFn;
  readonly logger?: Logger;
  readonly clock?: () => Date;
  /** Route status, NodeRouteTable, Events: fed the desired table after changes. */
  readonly status?: readonly StatusSink[];
  /** How often at most status, metrics and the probed gateway list follow the engine. Default 100 ms. */
  readonly reportEveryMs?: number;
  /**
   * How long one kernel apply may go unanswered before /livez fails. The engine waits
   * for each apply before the next, so a driver that never answers wedges it. Default 60 s.
   */
  readonly applyDeadlineMs?: number;
}

export interface AgentHandle {
  readonly endpoints: HttpEndpoints;
  readonly metrics: AgentMetrics;
  /** Resolves once every source has delivered its first sync. */
  readonly ready: Promise<void>;
  readonly steps$: Observable<EngineStep>;
  state(): NodeState;
  /** Ops handed to the kernel so far (zero on a restart with nothing to change). */
  opsWritten(): number;
  /** Leaves every route in place and releases sockets, servers and files. */
  stop(): Promise<void>;
}

function isReady(state: NodeState): boolean {
  return state.routes.synced && state.node.observed && state.host.observed && state.kernel.observed;
}

function missingSources(state: NodeState): string {
  const missing = [
    state.routes.synced ? undefined : "routes",
    state.node.observed ? undefined : "node",
    state.host.observed ? undefined : "host facts",
    state.kernel.observed ? undefined : "kernel",
  ].filter((s) => s !== undefined);
  return `waiting for the first sync of: ${missing.join(", ")}`;
}

export async function startAgent(settings: AgentSettings, deps: AgentDeps): Promise<AgentHandle> {
  const node = settings.nodeName;
  const log = deps.logger ?? createLogger({ level: settings.logLevel, node });
  const clock = deps.clock ?? (() => new Date());
  const cleanups: (() => Promise<void> | void)[] = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };

  try {
    const kernel =
      deps.dataplane ??
      (await createNetlinkDataplane(settings.netns !== undefined ? { netns: settings.netns } : {}));
    if (deps.dataplane === undefined) cleanups.push(() => kernel.close());

    const choice = chooseEngineSettings(settings, await kernel.features());
    for (const note of choice.notes) log.warn(note);
    const engineSettings = choice.engine;
    log.info({ settings: engineSettings, dryRun: settings.dryRun }, "kroute agent starting");

    // Before the first kernel write: a file that cannot be recorded to is a bad setting.
    let recorder: EventRecorder | undefined;
    if (settings.recordFile !== undefined) {
      const file = settings.recordFile;
      recorder = await openEventRecorder(file, (error) =>
        log.error({ err: String(error), file }, "recording to %s stopped: %s", file, error.message),
      ).catch((error: unknown) => {
        const why = error instanceof Error ? error.message : String(error);
        throw new SettingsError(`--record: ${JSON.stringify(file)} cannot be recorded to: ${why}`);
      });
      const opened = recorder;
      cleanups.push(() => opened.close());
    }

    if (!settings.dryRun) {
      const policy = settings.multipathHashPolicy;
      for (const family of [4, 6] as const) {
        // Written only where it differs: every write, even of the value already there,
        // has the kernel tell its listeners (a switch ASIC driver reprograms its hashing),
        // and a restart with nothing changed writes nothing to the kernel.
        const setIfDifferent = async () => {
          if ((await kernel.getMultipathHashPolicy(family)) !== policy)
            await kernel.setMultipathHashPolicy(family, policy);
        };
        await setIfDifferent().catch((error: unknown) => {
          // A read-only /proc/sys (an unprivileged container) cannot take it: set it on the host then.
          log.warn({ family, policy, err: String(error) }, "cannot set the multipath hash policy");
        });
      }
    }

    const dataplane = settings.dryRun
      ? dryRunDataplane(kernel, (ops) => log.info({ ops }, "dry run: would apply %d ops", ops.length))
      : kernel;

    const metrics = createMetrics();
    const cluster = typeof deps.cluster === "function" ? deps.cluster(metrics) : deps.cluster;
    const sinks = [failStaticLog(log), outcomeLog(log), ...(deps.status ?? []), ...(cluster.status ?? [])];
    cleanups.push(() => cluster.close?.());
    let state: NodeState | undefined;
    let ready = false;
    let live = true;
    let written = 0;
    const applyDeadlineMs = deps.applyDeadlineMs ?? 60_000;
    let applying: { readonly ops: number; readonly since: number } | undefined;
    const liveness = () => {
      if (!live) return { live: false, reason: "engine stopped" };
      const waited = applying === undefined ? 0 : Math.round(performance.now() - applying.since);
      if (applying !== undefined && waited > applyDeadlineMs) {
        return { live: false, reason: `a kernel apply of ${applying.ops} ops unanswered for ${waited} ms` };
      }
      return { live: true, reason: "ok" };
    };
    let markReady: () => void = () => {};
    const readyPromise = new Promise<void>((resolve) => {
      markReady = resolve;
    });

    const endpoints = await startHttp({
      health: settings.healthAddress,
      metrics: settings.metricsAddress,
      registry: metrics.registry,
      state: {
        live: liveness,
        ready: () =>
          ready
            ? { ready: true, reason: "ready" }
            : { ready: false, reason: state ? missingSources(state) : "starting" },
      },
    });
    cleanups.push(() => endpoints.close());

    // Others' nexthops in kroute's id range too: ids it cannot use (core nexthop-ids.ts).
    const scope = {
      protocols: krouteProtocols(engineSettings),
      nexthopIds: { base: engineSettings.nexthopIdBase, count: engineSettings.nexthopIdCount },
    };
    // Followed from before the start-up dump, so that a change made after it is not lost.
    const early = changesFromNow(kernel);
    cleanups.push(() => early.close());
    const initial = await kernel.list(scope);

    let prober: ReturnType<typeof createIcmpProber> | undefined;
    let probeDevices = new Map<IpAddr, string>();
    const probe: ProbeFn =
      deps.probe ??
      ((gateway, timeoutMs) => {
        prober ??= createIcmpProber({
          ...(settings.netns !== undefined ? { netns: settings.netns } : {}),
          onRoutedOnly: (reason) =>
            log.warn(
              { reason },
              "IPv6 gateway probes follow the routes: where a Route's destination holds a gateway's address via another gateway, that gateway's probes go there (%s)",
              reason,
            ),
        });
        return prober.echo(gateway, timeoutMs, probeDevices.get(gateway));
      });
    cleanups.push(() => prober?.close());

    const kernelSync = new KernelSync();
    const probedGateways$ = new BehaviorSubject<readonly IpAddr[]>([]);
    const probeErrors = new Set<string>();
    const sources: Observable<EventBody> = concat(
      of<EventBody>({ type: "agent/configured", node, settings: engineSettings }),
      merge(
        kernelSource(kernel, {
          node,
          scope,
          initial,
          changes: early.changes,
          resyncIntervalMs: settings.resyncIntervalMs,
          onResync: (reason) => metrics.resync(reason),
          onError: (error) => {
            kernelSync.dumpFailed();
            log.error({ err: String(error) }, "kernel dump failed; taking it again shortly");
          },
        }),
        hostSource(kernel, {
          nodeName: node,
          protocols: krouteProtocols(engineSettings),
          metadataAddress: settings.metadataAddress,
          keepOriginal: settings.keepOriginal,
          resolvConf: settings.resolvConf,
          hostRoot: settings.hostRoot,
          apiServers$: cluster.apiServers,
          dnsRefreshMs: Math.min(settings.resyncIntervalMs, RESOLVERS_REFRESH_MS),
          onReadError: (error) =>
            log.warn(
              { err: String(error) },
              "reading the host's default routes and addresses failed; reading again",
            ),
          onResolvConfProblem: (problem) =>
            log.warn(
              { problem },
              "a resolv.conf of the host could not be read; its resolvers are not protected: %s",
              problem,
            ),
        }),
        cluster.routes,
        cluster.node,
        trackGatewayHealth(probedGateways$, {
          node,
          settings: settings.probe,
          probe,
          onProbeError: (gateway, error) => {
            // Once per distinct reason: a broken prober fails every probe of every gateway.
            const reason = String(error);
            if (probeErrors.has(reason)) return;
            probeErrors.add(reason);
            log.error({ gateway, err: reason }, "gateway probe could not be sent: %s", reason);
          },
        }),
      ),
    );

    const apply = async (ops: readonly Op[]) => {
      written += ops.length;
      const started = performance.now();
      applying = { ops: ops.length, since: started };
      let results: OpResult[];
      try {
        results = await dataplane.apply(ops);
      } finally {
        applying = undefined;
      }
      const seconds = (performance.now() - started) / 1000;
      // Under --dry-run nothing reaches the kernel: no op counts as applied.
      if (!settings.dryRun) metrics.observeApply(ops, results);
      metrics.observeReconcile(seconds);
      ops.forEach((op, i) => {
        const result = results[i];
        if (result !== undefined && !result.ok) {
          log.warn({ op, errno: result.code, message: result.message }, "kernel refused an op");
        }
      });
      log.debug({ ops: ops.length, seconds }, "applied");
      return results;
    };
    const steps$ = createEngine({
      node,
      settings: engineSettings,
      sources: [sources],
      clock: () => clock().getTime(),
      apply,
      ...(recorder !== undefined ? { lastSeq: recorder.lastSeq } : {}),
    }).pipe(share());

    // The garbage of a burst (4 MiB or more) is collected once 5 s have been quiet.
    const collector = idleCollector({ quietMs: 5000, minGrowthBytes: 4 * 1024 * 1024, releaseFreeMemory });
    cleanups.push(() => collector.stop());
    const subscriptions: Subscription[] = [];
    const logKeptNexthops = keptNexthopsLog(log);
    subscriptions.push(
      steps$.subscribe({
        next: (step) => {
          state = step.state;
          kernelSync.step(step.event, step.state);
          logKeptNexthops(step.state);
          collector.activity();
          recorder?.record(step.event);
          metrics.eventConsumed(step.event.type, Date.parse(step.event.at));
          if (!ready && isReady(step.state)) {
            ready = true;
            log.info("every source has synced: ready");
            markReady();
          }
        },
        error: (error: unknown) => {
          live = false;
          log.fatal({ err: String(error) }, "engine stopped");
        },
      }),
    );
    const reportEveryMs = deps.reportEveryMs ?? 100;
    const cadence = reportCadence(reportEveryMs);
    // The engine's error is logged above; unhandled here, rxjs would throw it again
    // outside any stack, and the process would die of an uncaught exception.
    const loggedAbove = () => {};
    subscriptions.push(
      steps$.pipe(audit(() => timer(cadence.delay()))).subscribe({
        next: (step) => {
          const started = performance.now();
          const table = desiredTable(step.state);
          metrics.observeTable(table);
          for (const sink of sinks) sink.update(table, step.state, kernelSync.last);
          cadence.reported(started);
        },
        error: loggedAbove,
      }),
    );
    subscriptions.push(
      steps$.pipe(auditTime(reportEveryMs)).subscribe({
        next: (step) => {
          // Devices first: a gateway's first probe already goes out of its own device.
          probeDevices = gatewayDevices(step.state);
          probedGateways$.next(
            gatewayStatuses(step.state)
              .filter((g) => g.state !== "unprobed")
              .map((g) => g.gateway),
          );
        },
        error: loggedAbove,
      }),
    );
    cleanups.push(() => {
      for (const s of subscriptions) s.unsubscribe();
    });

    return {
      endpoints,
      metrics,
      ready: readyPromise,
      steps$,
      state: () => {
        if (state === undefined) throw new Error("agent: no event consumed yet");
        return state;
      },
      opsWritten: () => written,
      async stop() {
        log.info("stopping; routes stay in place");
        await stopAll();
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
