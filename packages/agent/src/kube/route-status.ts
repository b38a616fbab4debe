/**
 * The Route's `Accepted` condition (metav1.Condition conventions), by server-side apply
 * to the status subresource with one field manager shared by every agent.
 *
 * The condition says only what is true of the Route itself, the same on every node,
 * selected or not (the core's route verdict): every node may write it, and they all
 * write the same thing. What a node made of the Route (a gateway not on-link there,
 * destinations skipped, pending, failed or conflicting there) is in that node's
 * NodeRouteTable, and the condition says where to look, in words that do not depend on
 * the node: a node with nothing wrong must not overwrite another's problem, and the
 * condition must not flap with whichever node wrote last.
 *
 * To keep thousands of nodes from writing at once, each write waits a random delay
 * first and is dropped if, meanwhile, the watch shows the condition already right
 * (another node got there first). A generation is written at most once per process
 * unless the write fails.
 */

import type { DesiredTable, RouteOutcome } from "@kroute/core";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { KubeClient } from "./rest.ts";
import type { KubeCondition, RouteCache } from "./route-cache.ts";
import { FIELD_MANAGER, httpStatusOf } from "./ssa.ts";
import { type BackoffOptions, type Random, realTimers, retryDelay, type Timers } from "./timing.ts";

export interface RouteStatusWriterOptions {
  readonly kc: KubeConfig;
  readonly group: string;
  readonly version: string;
  /** The Routes as watched (see watchRoutes' `cache` option): tells whether a write is needed. */
  readonly cache: RouteCache;
  readonly fieldManager?: string;
  /** Writes wait a random delay up to this. Default 5 s. */
  readonly jitterMs?: number;
  /** Retries of failed writes. */
  readonly backoff?: BackoffOptions;
  readonly timers?: Timers;
  readonly random?: Random;
  /** A write failed (it is retried with backoff unless the Route is gone). */
  readonly onError?: (route: string, error: unknown) => void;
  /**
   * This node wrote the condition: the first to tell the Route's new generation, as the
   * others drop their writes once the watch shows it (an Event about the Route is
   * written once, not once a node).
   */
  readonly onWritten?: (route: string, condition: KubeCondition) => void;
}

const REASON_RE = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;
const MAX_MESSAGE = 32_768;

/** Where each node's own word on an accepted Route is: the same text from every node. */
export const PER_NODE_POINTER =
  "Each node it selects lists what is wrong with it there (a gateway not on-link, a destination skipped, failed or conflicting) in its NodeRouteTable's problems: kubectl get noderoutetables.";

function sentence(text: string): string {
  return text.endsWith(".") ? text : `${text}.`;
}

/** The Accepted condition for an outcome; lastTransitionTime kept when the status did not change. */
export function acceptedCondition(
  outcome: RouteOutcome,
  current: KubeCondition | undefined,
  now: string,
): KubeCondition {
  const status = outcome.accepted ? "True" : "False";
  const fallback = outcome.accepted ? "Accepted" : "Invalid";
  const reason = outcome.reason !== undefined && REASON_RE.test(outcome.reason) ? outcome.reason : fallback;
  const verdict = outcome.message ?? (outcome.accepted ? "The Route is valid." : "The Route is not valid.");
  // A long list of refused destinations is cut, not the pointer after it.
  const message = outcome.accepted
    ? `${sentence(verdict.slice(0, MAX_MESSAGE - PER_NODE_POINTER.length - 2))} ${PER_NODE_POINTER}`
    : verdict.slice(0, MAX_MESSAGE);
  return {
    type: "Accepted",
    status,
    reason,
    message,
    observedGeneration: outcome.generation,
    lastTransitionTime:
      current?.status === status && current.lastTransitionTime !== undefined
        ? current.lastTransitionTime
        : now,
  };
}

/** True when the condition on the Route already says this (or describes a newer generation). */
export function conditionIsCurrent(current: KubeCondition | undefined, wanted: KubeCondition): boolean {
  if (current === undefined) return false;
  const observed = current.observedGeneration ?? 0;
  const generation = wanted.observedGeneration ?? 0;
  if (observed > generation) return true;
  return (
    observed === generation &&
    current.status === wanted.status &&
    current.reason === wanted.reason &&
    current.message === wanted.message
  );
}

function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

interface Pending {
  readonly handle: unknown;
  readonly key: string;
}

export class RouteStatusWriter {
  readonly #options: RouteStatusWriterOptions;
  readonly #client: KubeClient;
  readonly #timers: Timers;
  readonly #random: Random;
  readonly #pending = new Map<string, Pending>();
  /**
   * Per Route, what this process last wrote successfully, for the Route object it wrote
   * to (its uid is in the key: a Route deleted and created again under its name is a new
   * object, with no status yet).
   */
  readonly #written = new Map<string, string>();
  readonly #failures = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #latest = new Map<string, RouteOutcome>();
  #closed = false;

  constructor(options: RouteStatusWriterOptions) {
    this.#options = options;
    this.#client = KubeClient.for(options.kc);
    this.#timers = options.timers ?? realTimers;
    this.#random = options.random ?? Math.random;
  }

  /** A StatusSink: the latest desired table's Route outcomes. */
  update(table: DesiredTable): void {
    this.updateOutcomes(table.outcomes);
  }

  updateOutcomes(outcomes: readonly RouteOutcome[]): void {
    if (this.#closed) return;
    this.#latest = new Map(outcomes.map((o) => [o.route, o]));
    for (const [route, pending] of this.#pending) {
      if (!this.#latest.has(route)) {
        this.#timers.clearTimeout(pending.handle);
        this.#pending.delete(route);
      }
    }
    // Routes gone from the table are forgotten: the maps stay the size of the table.
    for (const route of this.#written.keys()) if (!this.#latest.has(route)) this.#written.delete(route);
    for (const route of this.#failures.keys()) if (!this.#latest.has(route)) this.#failures.delete(route);
    for (const outcome of outcomes) this.#consider(outcome, 0);
  }

  /** Resolves once no write is waiting or running (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0 || this.#inFlight.size > 0) {
      await Promise.all(this.#inFlight);
      if (this.#pending.size > 0) await new Promise((r) => setTimeout(r, 5));
    }
  }

  close(): void {
    this.#closed = true;
    for (const pending of this.#pending.values()) this.#timers.clearTimeout(pending.handle);
    this.#pending.clear();
  }

  #wanted(outcome: RouteOutcome): { condition: KubeCondition; key: string; needed: boolean } {
    const current = this.#options.cache.condition(outcome.route, "Accepted");
    const condition = acceptedCondition(outcome, current, isoSeconds(this.#timers.now()));
    const key = JSON.stringify([
      this.#options.cache.get(outcome.route)?.metadata?.uid ?? "",
      condition.observedGeneration,
      condition.status,
      condition.reason,
      condition.message,
    ]);
    const needed = !conditionIsCurrent(current, condition) && this.#written.get(outcome.route) !== key;
    return { condition, key, needed };
  }

  #consider(outcome: RouteOutcome, delayFloorMs: number): void {
    const { key, needed } = this.#wanted(outcome);
    const pending = this.#pending.get(outcome.route);
    if (pending !== undefined) {
      if (pending.key === key) return;
      this.#timers.clearTimeout(pending.handle);
      this.#pending.delete(outcome.route);
    }
    if (!needed) return;
    const delay = Math.max(delayFloorMs, this.#random() * (this.#options.jitterMs ?? 5000));
    const handle = this.#timers.setTimeout(() => this.#fire(outcome.route), delay);
    this.#pending.set(outcome.route, { handle, key });
  }

  #fire(route: string): void {
    this.#pending.delete(route);
    const outcome = this.#latest.get(route);
    if (this.#closed || outcome === undefined) return;
    // Re-check: during the delay another node may have written the same condition.
    const { condition, key, needed } = this.#wanted(outcome);
    if (!needed) return;
    const write = this.#write(route, condition, key).finally(() => this.#inFlight.delete(write));
    this.#inFlight.add(write);
  }

  async #write(route: string, condition: KubeCondition, key: string): Promise<void> {
    const { group, version } = this.#options;
    try {
      await this.#client.apply(
        `/apis/${group}/${version}/routes/${encodeURIComponent(route)}/status`,
        {
          apiVersion: `${group}/${version}`,
          kind: "Route",
          metadata: { name: route },
          status: { conditions: [condition] },
        },
        // The Accepted condition is kroute's by definition: take it over from anyone else.
        { fieldManager: this.#options.fieldManager ?? FIELD_MANAGER, force: true },
      );
      this.#written.set(route, key);
      this.#failures.delete(route);
      this.#options.onWritten?.(route, condition);
    } catch (err) {
      this.#options.onError?.(route, err);
      if (httpStatusOf(err) === 404) return; // the Route is gone; its deletion will reach the engine
      const attempt = this.#failures.get(route) ?? 0;
      this.#failures.set(route, attempt + 1);
      const outcome = this.#latest.get(route);
      if (outcome !== undefined && !this.#closed) {
        this.#consider(outcome, retryDelay(attempt, this.#options.backoff ?? {}, this.#random, err));
      }
    }
  }
}
