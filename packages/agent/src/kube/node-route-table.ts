/**
 * The node's NodeRouteTable (SPEC §2): one cluster-scoped object named after the node,
 * owned by its Node (garbage-collected with it), written only by this node's agent by
 * server-side apply. The object is created once (apply to the main resource, with its
 * ownerReference), then only its status is applied.
 *
 * Writes are coalesced and rate-limited: at most one per `minIntervalMs`, always the
 * latest table; a table that differs only in its sync time or its gateways' round-trip
 * times is written no more often than `syncRefreshMs`, so a quiet node costs the API
 * server almost nothing. The agent's watch of the table (own-node-route-table.ts) tells
 * it when the table is gone, or owned by some other Node uid, and it is written again.
 */

import type { DesiredTable, DestinationState, GatewayStatus } from "@kroute/core";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { failStaticReason, isFailStatic } from "../fail-static.ts";
import type { OwnTableObservation } from "./own-node-route-table.ts";
import { KubeClient } from "./rest.ts";
import { FIELD_MANAGER, httpStatusOf } from "./ssa.ts";
import { type BackoffOptions, type Random, realTimers, retryDelay, type Timers } from "./timing.ts";

export interface NodeRouteTableGateway {
  readonly address: string;
  readonly state: GatewayStatus["state"];
  readonly rttMs?: number;
  readonly since?: string;
  /** The Routes through it, by name; at most MAX_USED_BY, the first by name. */
  readonly usedBy: readonly string[];
  /** Routes through it left out of usedBy. */
  readonly usedByOmitted?: number;
}

export interface NodeRouteTableProblem {
  readonly route: string;
  readonly destination: string;
  /**
   * The destination's state; for one that is otherwise programmed (or pending),
   * "fail-static" when it is kept on all its gateways because every one is down, and
   * "degraded" when it goes without some of its Route's gateways (not on-link here).
   */
  readonly state: Exclude<DestinationState, "programmed"> | "fail-static" | "degraded";
  readonly reason: string;
}

/** `.status` of a NodeRouteTable, as the CRD's schema and printer columns name it. */
export interface NodeRouteTableStatus {
  /** Destinations programmed in the kernel. */
  readonly programmed: number;
  /** Destinations desired but not yet confirmed. */
  readonly pending: number;
  /** Destinations failed, conflicting or invalid. */
  readonly failed: number;
  /** Destinations not routed here by design: this node is one of their gateways. */
  readonly skipped: number;
  /** Destinations kept on all their gateways because every one is down (also counted by their state). */
  readonly failStatic: number;
  /** Destinations routed without some of their Route's gateways, not on-link here (also counted by their state). */
  readonly degraded: number;
  readonly gatewaysUp: number;
  readonly gatewaysDown: number;
  readonly gateways: readonly NodeRouteTableGateway[];
  /** Gateways left out of the list, which the CRD caps (counted in gatewaysUp and gatewaysDown all the same). */
  readonly gatewaysOmitted?: number;
  readonly problems: readonly NodeRouteTableProblem[];
  /** Problems left out to keep the object small. */
  readonly problemsOmitted?: number;
  /**
   * When the node's kernel was last known to hold the desired table (ISO time): every
   * source synced, the kernel view complete (a complete dump, no notification lost
   * since), nothing pending and nothing the kernel refused, and no kernel dump failing.
   * It stays where it was while any of that is not so; absent until the agent's first
   * sync since it started.
   */
  readonly lastSync?: string;
}

/** At most this many problems are listed: objects stay far below etcd's size limit. */
export const MAX_PROBLEMS = 256;

/** At most this many gateways are listed: the CRD's maxItems, beyond which the API server refuses the status. */
export const MAX_GATEWAYS = 1024;

/**
 * At most this many Routes are named per gateway (also the CRD's maxItems): thousands of
 * Routes through a few gateways made every status write hundreds of kilobytes, on every
 * node, and could pass etcd's object size limit.
 */
export const MAX_USED_BY = 32;

/** Summarise a desired table for the NodeRouteTable; only Routes selected for this node count. */
export function nodeRouteTableStatus(
  table: DesiredTable,
  lastSync: string | undefined,
): NodeRouteTableStatus {
  const counts: Record<DestinationState, number> = {
    programmed: 0,
    pending: 0,
    failed: 0,
    conflicted: 0,
    invalid: 0,
    skipped: 0,
  };
  let failStatic = 0;
  let degraded = 0;
  const problems: NodeRouteTableProblem[] = [];
  for (const outcome of table.outcomes) {
    if (!outcome.selected) continue;
    for (const d of outcome.destinations) {
      counts[d.state]++;
      const stuck = isFailStatic(d);
      if (stuck) failStatic++;
      const routed = d.state === "programmed" || d.state === "pending";
      if (routed && d.leftOut !== undefined) degraded++;
      if (routed) {
        // One problem per destination: fail-static, else degraded, only where nothing else is wrong.
        if (stuck) {
          problems.push({
            route: d.route,
            destination: d.destination,
            state: "fail-static",
            reason: d.leftOut === undefined ? failStaticReason(d) : `${failStaticReason(d)}; ${d.leftOut}`,
          });
        } else if (d.leftOut !== undefined) {
          problems.push({ route: d.route, destination: d.destination, state: "degraded", reason: d.leftOut });
        }
        continue;
      }
      const reason = d.reason ?? d.state;
      problems.push({
        route: d.route,
        destination: d.destination,
        state: d.state,
        reason: stuck ? `${reason}; ${failStaticReason(d)}` : reason,
      });
    }
    if (!outcome.accepted && outcome.destinations.length === 0) {
      problems.push({
        route: outcome.route,
        destination: "",
        state: "invalid",
        reason: outcome.message ?? outcome.reason ?? "invalid",
      });
    }
  }
  problems.sort((a, b) => (a.route === b.route ? cmp(a.destination, b.destination) : cmp(a.route, b.route)));
  const gateways = listedGateways(table.gateways)
    .sort((a, b) => cmp(a.gateway, b.gateway))
    .map(
      (g): NodeRouteTableGateway => ({
        address: g.gateway,
        state: g.state,
        ...(g.rttMs === undefined ? {} : { rttMs: Math.round(g.rttMs * 1000) / 1000 }),
        ...(g.since === undefined ? {} : { since: g.since }),
        usedBy: [...g.usedBy].sort(cmp).slice(0, MAX_USED_BY),
        ...(g.usedBy.length > MAX_USED_BY ? { usedByOmitted: g.usedBy.length - MAX_USED_BY } : {}),
      }),
    );
  return {
    programmed: counts.programmed,
    pending: counts.pending,
    failed: counts.failed + counts.conflicted + counts.invalid,
    skipped: counts.skipped,
    failStatic,
    degraded,
    gatewaysUp: table.gateways.filter((g) => g.state === "up").length,
    gatewaysDown: table.gateways.filter((g) => g.state === "down").length,
    gateways,
    ...(table.gateways.length > MAX_GATEWAYS
      ? { gatewaysOmitted: table.gateways.length - MAX_GATEWAYS }
      : {}),
    problems: problems.slice(0, MAX_PROBLEMS),
    ...(problems.length > MAX_PROBLEMS ? { problemsOmitted: problems.length - MAX_PROBLEMS } : {}),
    ...(lastSync === undefined ? {} : { lastSync }),
  };
}

/** The gateways to list: all when they fit, else the down ones first (what an operator looks for), then by address. */
function listedGateways(gateways: readonly GatewayStatus[]): GatewayStatus[] {
  if (gateways.length <= MAX_GATEWAYS) return [...gateways];
  const rank = (g: GatewayStatus) => (g.state === "down" ? 0 : 1);
  return [...gateways].sort((a, b) => rank(a) - rank(b) || cmp(a.gateway, b.gateway)).slice(0, MAX_GATEWAYS);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What makes a write worth doing at once: everything but the sync time and the
 * gateways' round-trip times, which move on every engine step and every RTT refresh.
 */
function contentKey(status: NodeRouteTableStatus): string {
  const { lastSync: _sync, gateways, ...content } = status;
  return JSON.stringify([content, gateways.map(({ rttMs: _rtt, ...gateway }) => gateway)]);
}

function rttKey(status: NodeRouteTableStatus): string {
  return JSON.stringify(status.gateways.map((g) => g.rttMs));
}

export interface NodeRouteTableWriterOptions {
  readonly kc: KubeConfig;
  readonly nodeName: string;
  /** API group of the NodeRouteTable CRD; default networking.kroute.dev. */
  readonly group?: string;
  readonly version?: string;
  /**
   * The Node's uid for the ownerReference; looked up (list by field selector) when absent
   * and not yet told by `nodeSeen`, and again whenever the table is found deleted.
   */
  readonly nodeUid?: string;
  readonly fieldManager?: string;
  /** At most one write per this interval. Default 5 s. */
  readonly minIntervalMs?: number;
  /** A write that would only move lastSync or gateways' round-trip times waits this long. Default 5 min. */
  readonly syncRefreshMs?: number;
  readonly backoff?: BackoffOptions;
  readonly timers?: Timers;
  readonly random?: Random;
  readonly onError?: (error: unknown) => void;
}

export class NodeRouteTableWriter {
  readonly #o: NodeRouteTableWriterOptions;
  readonly #client: KubeClient;
  readonly #timers: Timers;
  readonly #group: string;
  readonly #version: string;
  #latest: NodeRouteTableStatus | undefined;
  #written: NodeRouteTableStatus | undefined;
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  #created = false;
  #nodeUid: string | undefined;
  #timer: unknown;
  #writing: Promise<void> | undefined;
  #failures = 0;
  #closed = false;
  /** The next write goes out without waiting for the minimum interval (a deleted table's re-creation). */
  #atOnce = false;
  #deletionAnsweredAt = Number.NEGATIVE_INFINITY;

  constructor(options: NodeRouteTableWriterOptions) {
    if (options.nodeName === "") throw new Error("NodeRouteTableWriter: nodeName is empty");
    this.#o = options;
    this.#client = KubeClient.for(options.kc);
    this.#timers = options.timers ?? realTimers;
    this.#group = options.group ?? "networking.kroute.dev";
    this.#version = options.version ?? "v1alpha1";
    this.#nodeUid = options.nodeUid;
  }

  /** A StatusSink. */
  update(table: DesiredTable, _state: unknown, lastSync: string | undefined): void {
    this.updateStatus(nodeRouteTableStatus(table, lastSync));
  }

  updateStatus(status: NodeRouteTableStatus): void {
    if (this.#closed) return;
    this.#latest = status;
    this.#schedule(0);
  }

  /**
   * The Node's uid, as the agent's watch of its Node sees it. A Node deleted and
   * registered again (same name, new uid) took the table with it (the garbage collector
   * deletes what only the old uid owns), and nothing else would tell the writer: a quiet
   * node's table would be missing until its next change or the next sync-time refresh,
   * minutes later. A new uid has the table created again, owned by it, at the next write
   * the minimum interval allows.
   */
  nodeSeen(uid: string): void {
    if (this.#closed || uid === this.#nodeUid) return;
    this.#nodeUid = uid;
    this.#created = false;
    // A retry waiting out its backoff is cut short: what failed was most likely the
    // write to the table of the Node that just came back.
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule(0);
  }

  /**
   * What the agent's watch of the table saw. A table the writer wrote is gone: deleted by
   * hand, by a cleanup script, or by the garbage collector, which may act on the owner
   * uid it read before the table was given the new Node's; or it is owned by some other
   * uid than the Node's current one. Either way it is written again, through the same
   * path as at start (created, owned by the Node's uid as the API server has it now, then
   * its status). The agent's own writes leave the table there and owned by the uid it
   * wrote, so they are never answered with another write.
   */
  tableObserved(table: OwnTableObservation): void {
    // Not created yet (at start, or a Node registered again): a creation is due anyway.
    if (this.#closed || !this.#created) return;
    if (table.present) {
      if (this.#nodeUid === undefined || table.nodeOwnerUids.includes(this.#nodeUid)) return;
      this.#created = false;
      this.#schedule(0);
      return;
    }
    this.#created = false;
    // The Node may be gone too (the garbage collector deletes the table with it): its uid
    // is asked for again, as after a write that finds the table gone.
    this.#nodeUid = undefined;
    // Answered within the moment, not at the end of the minimum interval; but only one
    // deletion in an interval: something that deletes the table as soon as it appears
    // (a cleanup loop) meets the usual pacing, not a write for each of its deletions.
    const now = this.#timers.now();
    if (now - this.#deletionAnsweredAt < this.#minIntervalMs()) {
      this.#schedule(0);
      return;
    }
    this.#deletionAnsweredAt = now;
    this.#atOnce = true;
    // Also a retry waiting out its backoff: the watch that saw this shows the API server is answering.
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule(0);
  }

  /** Resolves once nothing is waiting or being written (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#timer !== undefined || this.#writing !== undefined) {
      if (this.#writing !== undefined) await this.#writing;
      else await new Promise((r) => setTimeout(r, 5));
    }
  }

  close(): void {
    this.#closed = true;
    this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #needsWrite(): boolean {
    const latest = this.#latest;
    if (latest === undefined) return false;
    // The table must be created (again): at start, or for a Node registered again.
    if (!this.#created) return true;
    const written = this.#written;
    if (written === undefined || contentKey(latest) !== contentKey(written)) return true;
    const refreshMs = this.#o.syncRefreshMs ?? 300_000;
    if (latest.lastSync !== undefined && latest.lastSync !== written.lastSync) {
      // The first sync since the agent started is told at once.
      if (written.lastSync === undefined) return true;
      if (Date.parse(latest.lastSync) - Date.parse(written.lastSync) >= refreshMs) return true;
    }
    // Round-trip times alone are refreshed as seldom as the sync time: every gateway's
    // moves every 10 s, which wrote every node's table every 10 s, for good.
    return rttKey(latest) !== rttKey(written) && this.#timers.now() - this.#lastWriteAt >= refreshMs;
  }

  #schedule(extraDelayMs: number): void {
    if (this.#timer !== undefined || this.#writing !== undefined || !this.#needsWrite()) return;
    const interval = this.#atOnce
      ? 0
      : Math.max(0, this.#lastWriteAt + this.#minIntervalMs() - this.#timers.now());
    this.#timer = this.#timers.setTimeout(
      () => {
        this.#timer = undefined;
        this.#writing = this.#flush().finally(() => {
          this.#writing = undefined;
          if (!this.#closed) this.#schedule(0);
        });
      },
      Math.max(interval, extraDelayMs),
    );
  }

  async #flush(): Promise<void> {
    const status = this.#latest;
    if (this.#closed || status === undefined || !this.#needsWrite()) return;
    try {
      if (!this.#created) await this.#create();
      try {
        await this.#applyStatus(status);
      } catch (err) {
        if (httpStatusOf(err) !== 404) throw err;
        // Deleted behind our back (or never there): create it again, then write. The
        // garbage collector deletes it with its owner, so the Node may have registered
        // again since, with a new uid: an owner reference to the old one would have the
        // new table collected at once.
        this.#nodeUid = undefined;
        await this.#create();
        await this.#applyStatus(status);
      }
      this.#written = status;
      this.#failures = 0;
      this.#atOnce = false;
      // The interval runs from the end of a write: a slow API server is written to less often.
      this.#lastWriteAt = this.#timers.now();
    } catch (err) {
      this.#o.onError?.(err);
      const random = this.#o.random ?? Math.random;
      const delay = retryDelay(this.#failures++, this.#o.backoff ?? {}, random, err);
      // Retry after the backoff (or the server's Retry-After); #schedule after this flush would otherwise retry at once.
      this.#timer = this.#timers.setTimeout(() => {
        this.#timer = undefined;
        this.#schedule(0);
      }, delay);
    }
  }

  async #create(): Promise<void> {
    const name = this.#o.nodeName;
    const uid = this.#nodeUid ?? (await this.#lookUpNodeUid());
    this.#nodeUid ??= uid;
    await this.#client.apply(
      this.#path(),
      {
        apiVersion: `${this.#group}/${this.#version}`,
        kind: "NodeRouteTable",
        metadata: {
          name,
          labels: { "app.kubernetes.io/managed-by": "kroute-agent" },
          ownerReferences: [{ apiVersion: "v1", kind: "Node", name, uid }],
        },
      },
      { fieldManager: this.#o.fieldManager ?? FIELD_MANAGER, force: true },
    );
    // A new uid seen while this was written has the table created again, owned by it.
    this.#created = this.#nodeUid === uid;
  }

  async #applyStatus(status: NodeRouteTableStatus): Promise<void> {
    await this.#client.apply(
      `${this.#path()}/status`,
      {
        apiVersion: `${this.#group}/${this.#version}`,
        kind: "NodeRouteTable",
        metadata: { name: this.#o.nodeName },
        status,
      },
      { fieldManager: this.#o.fieldManager ?? FIELD_MANAGER, force: true },
    );
  }

  #minIntervalMs(): number {
    return this.#o.minIntervalMs ?? 5000;
  }

  #path(): string {
    return `/apis/${this.#group}/${this.#version}/noderoutetables/${encodeURIComponent(this.#o.nodeName)}`;
  }

  async #lookUpNodeUid(): Promise<string> {
    const fieldSelector = `metadata.name=${this.#o.nodeName}`;
    const list = await this.#client.list<{ metadata?: { uid?: string } }>("/api/v1/nodes", { fieldSelector });
    const uid = list.items[0]?.metadata?.uid;
    if (uid === undefined)
      throw new Error(
        `NodeRouteTable: Node ${JSON.stringify(this.#o.nodeName)} not found for its ownerReference`,
      );
    return uid;
  }
}
