/**
 * Kubernetes Events (events.k8s.io/v1) on transitions only: a gateway going down or
 * coming back, a destination failing or recovering, a conflict, an invalid
 * destination, a Route's destinations going fail-static (every gateway down) and
 * leaving it; and a Route refused as a whole (routeRefused). The caller reports
 * transitions (or hands over desired tables, from which they are derived); the
 * recorder remembers the last state it reported per subject and writes only changes,
 * so a state repeated on every reconcile makes one Event. A small per-subject token bucket caps a flapping gateway's Events; a state
 * held back by it is written when the allowance comes back, unless the subject has
 * returned to what its last Event said by then: the last Event always tells the
 * state the subject settled in.
 *
 * An overall token bucket caps the node's Events whatever their subject (hundreds of
 * Routes failing at once are hundreds of subjects), as client-go's EventBroadcaster
 * drops what its queue cannot hold: an Event over it is dropped, reported (onDropped),
 * never waited for. A dropped Event was not told, so its subject's next Event is
 * judged against the last one written: a "back up" never follows a dropped "down".
 * A dropped recovery, though, leaves a warning as the subject's last Event until its
 * next change; the Route's status and the NodeRouteTable say what holds now.
 *
 * One desired table writes at most MAX_DESTINATION_EVENTS of a Route's destination
 * Events, and one Event counting the rest: a Route of 1024 destinations all refused
 * (protected, say) would otherwise be 1024 Events from each node it selects.
 *
 * A write the API server sheds (429, 5xx) or that gets no answer is retried a few
 * times, with backoff and never sooner than its Retry-After: Events are wanted most
 * when the cluster is in trouble, which is when API Priority and Fairness turns them
 * away. A subject's Events are written one after the other, each once the one before
 * it is written or given up: a gateway that came back while its GatewayDown was being
 * retried gets its GatewayUp after that GatewayDown, not instead of it, so the history
 * (kubectl get events) shows it down, then up.
 */

import type { DesiredTable } from "@kroute/core";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { failStaticRoutes } from "../fail-static.ts";
import { KubeApiError, KubeClient } from "./rest.ts";
import { type BackoffOptions, type Random, realTimers, retryDelay, type Timers } from "./timing.ts";
import { TokenBucket } from "./token-bucket.ts";

export type Transition =
  | { readonly kind: "gateway-down"; readonly gateway: string; readonly message?: string }
  | { readonly kind: "gateway-up"; readonly gateway: string; readonly rttMs?: number }
  | {
      readonly kind: "route-failed";
      readonly route: string;
      readonly destination: string;
      readonly reason: string;
    }
  | { readonly kind: "route-recovered"; readonly route: string; readonly destination: string }
  | {
      /** The node became one of the destination's gateways (its own address): not routed here. */
      readonly kind: "route-skipped";
      readonly route: string;
      readonly destination: string;
      readonly reason: string;
    }
  | {
      readonly kind: "conflict";
      readonly route: string;
      readonly destination: string;
      readonly reason: string;
    }
  | {
      readonly kind: "invalid-destination";
      readonly route: string;
      readonly destination: string;
      readonly reason: string;
    }
  | {
      /** One Event per Route, however many of its destinations are fail-static. */
      readonly kind: "fail-static";
      readonly route: string;
      readonly destinations: readonly string[];
      /** The down gateways the destinations keep. */
      readonly gateways: readonly string[];
    }
  | { readonly kind: "fail-static-cleared"; readonly route: string };

export interface EventRecorderOptions {
  readonly kc: KubeConfig;
  readonly nodeName: string;
  /** apiVersion of the Route objects Events refer to, e.g. networking.kroute.dev/v1alpha1. */
  readonly routeApiVersion: string;
  /** Events per subject before throttling, and how fast that allowance comes back. Default 5, one per minute. */
  readonly burst?: number;
  readonly refillMs?: number;
  /**
   * Events of the node in all, whatever their subject, before dropping, and how fast
   * that allowance comes back. Default 25 (client-go's spam-filter burst, there per
   * object) and one per 30 s: a cluster-wide incident on 2,000 nodes is then at most
   * 50,000 Events at once and about 70 a second after that.
   */
  readonly overallBurst?: number;
  readonly overallRefillMs?: number;
  /** Retries of a write the API server shed or did not answer. */
  readonly backoff?: BackoffOptions;
  readonly timers?: Timers;
  readonly random?: Random;
  /** A write failed (retried, up to MAX_EVENT_ATTEMPTS in all, when the failure may pass). */
  readonly onError?: (error: unknown) => void;
  /** An Event was held back by the per-subject limit (written later if its state still holds). */
  readonly onThrottled?: (transition: Transition) => void;
  /** An Event was dropped by the overall limit (for kroute_kubernetes_events_dropped_total and the log). */
  readonly onDropped?: (event: DroppedEvent) => void;
}

export interface DroppedEvent {
  /** The Event's reason, e.g. RouteFailed. */
  readonly reason: string;
  /** What it was about: the Node's or the Route's name, and the gateway or destination. */
  readonly subject: string;
}

/** An Event's name and time, the same on each of its attempts. */
interface EventIdentity {
  readonly name: string;
  readonly at: number;
}

interface EventSpec {
  readonly subject: string;
  readonly state: string;
  readonly reason: string;
  readonly type: "Normal" | "Warning";
  readonly action: string;
  readonly note: string;
  readonly regarding: { apiVersion: string; kind: string; name: string };
  /** Reported only after its opposite: "up" is news only after "down". */
  readonly onlyAfter?: readonly string[];
}

/** Kubernetes object names (DNS subdomains). */
const MAX_NAME = 253;
const MAX_NOTE = 1024;
/**
 * Every Event here is about a cluster-scoped object (a Node, a Route): the API server
 * takes those only in default or kube-system, and client-go writes them in default.
 */
const EVENT_NAMESPACE = "default";
/** The API server refuses an Event whose reportingInstance is longer (a node name may have 253). */
const MAX_REPORTING_INSTANCE = 128;
const INSTANCE_PREFIX = "kroute-agent-";
/** A Route's destination Events one desired table may write on a node; the rest are counted in one. */
export const MAX_DESTINATION_EVENTS = 8;
/** Attempts at one Event, the first included: with the default backoff, about 15 s of trying. */
export const MAX_EVENT_ATTEMPTS = 6;

export class EventRecorder {
  readonly #o: EventRecorderOptions;
  readonly #client: KubeClient;
  readonly #timers: Timers;
  /** Last state seen per subject: a repeat of it is nothing new. */
  readonly #seen = new Map<string, string>();
  /** The state the subject's last Event said (or, for a normal state seen first, took silently). */
  readonly #told = new Map<string, string>();
  /** Per subject, the state held back by the limit, and the timer that writes it when allowed. */
  readonly #heldBack = new Map<string, { spec: EventSpec; timer: unknown }>();
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #overall: TokenBucket;
  /**
   * Per subject with an Event being written (or waiting for its retry), the Events
   * waiting behind it, in order; no entry when none is being written.
   */
  readonly #queued = new Map<string, { spec: EventSpec; event: EventIdentity }[]>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Timers of failed writes waiting for their retry. */
  readonly #retries = new Set<unknown>();
  #sequence = 0;
  /** During update: per Route, its destination Events written so far and the states of those left out. */
  #perRoute: Map<string, { written: number; omitted: Map<string, number> }> | undefined;

  constructor(options: EventRecorderOptions) {
    this.#o = options;
    this.#client = KubeClient.for(options.kc);
    this.#timers = options.timers ?? realTimers;
    this.#overall = new TokenBucket(
      options.overallBurst ?? 25,
      options.overallRefillMs ?? 30_000,
      this.#timers.now(),
    );
  }

  /** Report one transition; written only if it changes what was last reported for its subject. */
  record(transition: Transition): void {
    const spec = this.#spec(transition);
    if (this.#seen.get(spec.subject) === spec.state) return;
    this.#seen.set(spec.subject, spec.state);
    if (!this.#tell(spec)) this.#o.onThrottled?.(transition);
  }

  /** Writes the subject's new state unless there is nothing to tell; false when the limit holds it back. */
  #tell(spec: EventSpec): boolean {
    this.#forgetHeldBack(spec.subject);
    const told = this.#told.get(spec.subject);
    if (told === spec.state) return true;
    if (spec.onlyAfter !== undefined && (told === undefined || !spec.onlyAfter.includes(told))) {
      // The normal state, first seen or seen again: nothing happened worth an Event.
      this.#told.set(spec.subject, spec.state);
      return true;
    }
    if (!this.#withinRouteAllowance(spec)) {
      this.#told.set(spec.subject, spec.state);
      return true;
    }
    if (!this.#overallAllows(spec)) return true;
    const waitMs = this.#take(spec.subject);
    if (waitMs > 0) {
      const timer = this.#timers.setTimeout(() => {
        if (this.#heldBack.get(spec.subject)?.spec === spec) this.#tell(spec);
      }, waitMs);
      this.#heldBack.set(spec.subject, { spec, timer });
      return false;
    }
    this.#told.set(spec.subject, spec.state);
    this.#send(spec);
    return true;
  }

  /** Whether the overall limit lets one more Event out now; if not, the Event is dropped and said so. */
  #overallAllows(spec: EventSpec): boolean {
    if (this.#overall.available(this.#timers.now())) return true;
    this.#o.onDropped?.({ reason: spec.reason, subject: spec.subject });
    return false;
  }

  /** Writes an Event the limits let out, after the subject's Events before it. */
  #send(spec: EventSpec): void {
    // The time of the transition, and one name: the retries of an Event are that Event.
    const at = this.#timers.now();
    this.#overall.take(at);
    const event = { name: this.#eventName(spec, at), at };
    const queue = this.#queued.get(spec.subject);
    if (queue !== undefined) {
      queue.push({ spec, event });
      return;
    }
    this.#queued.set(spec.subject, []);
    this.#attempt(spec, event, 0);
  }

  /** The subject's Event was written or given up: the next one waiting goes. */
  #next(subject: string): void {
    const next = this.#queued.get(subject)?.shift();
    if (next === undefined) this.#queued.delete(subject);
    else this.#attempt(next.spec, next.event, 0);
  }

  #attempt(spec: EventSpec, event: EventIdentity, attempt: number): void {
    const write = this.#write(spec, event, attempt).finally(() => this.#inFlight.delete(write));
    this.#inFlight.add(write);
  }

  #retryLater(spec: EventSpec, event: EventIdentity, attempt: number, error: unknown): void {
    if (attempt + 1 >= MAX_EVENT_ATTEMPTS || !mayPass(error)) {
      this.#next(spec.subject);
      return;
    }
    const delay = retryDelay(attempt, this.#o.backoff ?? {}, this.#o.random ?? Math.random, error);
    // Retried even when the subject has moved on: the Events behind it wait for it.
    const timer = this.#timers.setTimeout(() => {
      this.#retries.delete(timer);
      this.#attempt(spec, event, attempt + 1);
    }, delay);
    this.#retries.add(timer);
  }

  #forgetHeldBack(subject: string): void {
    const held = this.#heldBack.get(subject);
    if (held === undefined) return;
    this.#timers.clearTimeout(held.timer);
    this.#heldBack.delete(subject);
  }

  /**
   * A Route refused as a whole (SPEC §3.12: status, Event and log), written by the node
   * whose status write told it first (RouteStatusWriter onWritten): one Event per
   * generation, not one per node, and no subject to remember.
   */
  routeRefused(route: string, generation: number | undefined, message: string): void {
    const spec: EventSpec = {
      subject: `route/${route}`,
      state: "refused",
      reason: "RouteRefused",
      type: "Warning",
      action: "Validate",
      note: `Route ${route}${generation === undefined ? "" : ` (generation ${generation})`} refused: ${message}`,
      regarding: { apiVersion: this.#o.routeApiVersion, kind: "Route", name: route },
    };
    if (this.#overallAllows(spec)) this.#send(spec);
  }

  /** Drops the Events still held back or waiting for a retry (the agent is stopping). */
  close(): void {
    for (const subject of [...this.#heldBack.keys()]) this.#forgetHeldBack(subject);
    for (const timer of this.#retries) this.#timers.clearTimeout(timer);
    this.#retries.clear();
    this.#queued.clear();
  }

  /**
   * Whether a destination's Event is within its Route's allowance in this update (counted
   * when it is); one beyond it is counted among the omitted, told without an Event.
   */
  #withinRouteAllowance(spec: EventSpec): boolean {
    if (this.#perRoute === undefined || !spec.subject.startsWith("destination/")) return true;
    const [route = ""] = splitDestinationSubject(spec.subject);
    const entry = this.#perRoute.get(route) ?? { written: 0, omitted: new Map<string, number>() };
    this.#perRoute.set(route, entry);
    if (entry.written < MAX_DESTINATION_EVENTS) {
      entry.written += 1;
      return true;
    }
    entry.omitted.set(spec.state, (entry.omitted.get(spec.state) ?? 0) + 1);
    return false;
  }

  /** One Event per Route for the destination Events left out of this update, throttled like any subject. */
  #sendOmitted(): void {
    for (const [route, { omitted }] of this.#perRoute ?? []) {
      if (omitted.size === 0) continue;
      const total = [...omitted.values()].reduce((a, b) => a + b, 0);
      const states = [...omitted].map(([state, n]) => `${n} ${state}`).join(", ");
      const spec: EventSpec = {
        subject: `destinations/${route}`,
        state: "omitted",
        reason: "DestinationEventsOmitted",
        type: [...omitted.keys()].some((s) => WARNING_STATES.has(s)) ? "Warning" : "Normal",
        action: "Select",
        note: `${total} more destinations of Route ${route} changed on node ${this.#o.nodeName} (${states}), past the ${MAX_DESTINATION_EVENTS} Events one change writes; the Route's status and NodeRouteTable ${this.#o.nodeName} list them`,
        regarding: { apiVersion: this.#o.routeApiVersion, kind: "Route", name: route },
      };
      if (this.#overallAllows(spec) && this.#take(spec.subject) === 0) this.#send(spec);
    }
  }

  /** A StatusSink: derive the transitions from the latest desired table. */
  update(table: DesiredTable): void {
    this.#perRoute = new Map();
    try {
      this.#update(table);
      this.#sendOmitted();
    } finally {
      this.#perRoute = undefined;
    }
  }

  #update(table: DesiredTable): void {
    const seen = new Set<string>();
    for (const g of table.gateways) {
      seen.add(gatewaySubject(g.gateway));
      if (g.state === "down") this.record({ kind: "gateway-down", gateway: g.gateway });
      else if (g.state === "up")
        this.record({
          kind: "gateway-up",
          gateway: g.gateway,
          ...(g.rttMs === undefined ? {} : { rttMs: g.rttMs }),
        });
    }
    for (const outcome of table.outcomes) {
      if (!outcome.selected) continue;
      for (const d of outcome.destinations) {
        const base = { route: d.route, destination: d.destination };
        seen.add(destinationSubject(d.route, d.destination));
        switch (d.state) {
          case "programmed":
            this.record({ kind: "route-recovered", ...base });
            break;
          case "failed":
            this.record({
              kind: "route-failed",
              ...base,
              reason: d.reason ?? "the kernel refused the route",
            });
            break;
          case "conflicted":
            this.record({
              kind: "conflict",
              ...base,
              reason: d.reason ?? "another Route has this destination",
            });
            break;
          case "invalid":
            this.record({ kind: "invalid-destination", ...base, reason: d.reason ?? "invalid" });
            break;
          case "skipped":
            this.record({ kind: "route-skipped", ...base, reason: d.reason ?? "this node is its gateway" });
            break;
          case "pending":
            break;
        }
      }
    }
    const failStatic = failStaticRoutes(table);
    for (const outcome of table.outcomes) {
      if (!outcome.selected) continue;
      const r = failStatic.get(outcome.route);
      seen.add(failStaticSubject(outcome.route));
      this.record(
        r === undefined
          ? { kind: "fail-static-cleared", route: outcome.route }
          : { kind: "fail-static", route: r.route, destinations: r.destinations, gateways: r.gateways },
      );
    }
    // Destinations, Routes and gateways that went away (a Route deleted or no longer
    // selecting the node, a gateway no Route names) start afresh if they come back. One
    // whose last Event here was a warning gets a last word, or that warning would stand
    // as the subject's state on this node for good.
    for (const subject of [...this.#seen.keys()]) {
      if (seen.has(subject)) continue;
      const withdrawn = this.#withdrawn(subject, this.#told.get(subject));
      if (
        withdrawn !== undefined &&
        this.#withinRouteAllowance(withdrawn) &&
        this.#overallAllows(withdrawn) &&
        this.#take(subject) === 0
      )
        this.#send(withdrawn);
      this.#seen.delete(subject);
      this.#told.delete(subject);
      this.#forgetHeldBack(subject);
    }
    this.#pruneBuckets(seen);
  }

  /** The last word on a subject that went away while its last Event was a warning. */
  #withdrawn(subject: string, told: string | undefined): EventSpec | undefined {
    const route = (name: string) => ({ apiVersion: this.#o.routeApiVersion, kind: "Route", name });
    if (subject.startsWith("fail-static/") && told === "fail-static") {
      return this.#spec({ kind: "fail-static-cleared", route: subject.slice("fail-static/".length) });
    }
    if (!subject.startsWith("destination/") || told === undefined || !WARNING_STATES.has(told))
      return undefined;
    const [routeName = "", destination = ""] = splitDestinationSubject(subject);
    return {
      subject,
      state: "withdrawn",
      reason: "RouteWithdrawn",
      type: "Normal",
      action: "Select",
      note: `destination ${destination} is no longer routed on node ${this.#o.nodeName} (the Route was deleted or no longer selects the node); its last Event here said ${told}`,
      regarding: route(routeName),
    };
  }

  /** A bucket back to its full allowance says nothing: dropped, unless its subject is still there. */
  #pruneBuckets(present: ReadonlySet<string>): void {
    const burst = this.#o.burst ?? 5;
    const refillMs = this.#o.refillMs ?? 60_000;
    const now = this.#timers.now();
    for (const [subject, bucket] of this.#buckets) {
      if (present.has(subject)) continue;
      if (bucket.tokens + Math.floor((now - bucket.at) / refillMs) >= burst) this.#buckets.delete(subject);
    }
  }

  /** Resolves once no write is running or waiting for its retry (for tests and shutdown). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0 || this.#retries.size > 0) {
      if (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
      else await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Takes one of the subject's tokens: 0 when it did, else how long until one comes back. */
  #take(subject: string): number {
    const burst = this.#o.burst ?? 5;
    const refillMs = this.#o.refillMs ?? 60_000;
    const now = this.#timers.now();
    const bucket = this.#buckets.get(subject) ?? { tokens: burst, at: now };
    const refilled = Math.min(burst, bucket.tokens + Math.floor((now - bucket.at) / refillMs));
    const at = refilled > bucket.tokens ? now : bucket.at;
    if (refilled < 1) {
      this.#buckets.set(subject, { tokens: refilled, at });
      return Math.max(1, at + refillMs - now);
    }
    this.#buckets.set(subject, { tokens: refilled - 1, at });
    return 0;
  }

  #spec(t: Transition): EventSpec {
    const node = { apiVersion: "v1", kind: "Node", name: this.#o.nodeName };
    const route = (name: string) => ({ apiVersion: this.#o.routeApiVersion, kind: "Route", name });
    switch (t.kind) {
      case "gateway-down":
        return {
          subject: gatewaySubject(t.gateway),
          state: "down",
          reason: "GatewayDown",
          type: "Warning",
          action: "Probe",
          note: `gateway ${t.gateway} stopped answering probes on node ${this.#o.nodeName}${t.message === undefined ? "" : `: ${t.message}`}; taken out of its routes`,
          regarding: node,
        };
      case "gateway-up":
        return {
          subject: gatewaySubject(t.gateway),
          state: "up",
          reason: "GatewayUp",
          type: "Normal",
          action: "Probe",
          note: `gateway ${t.gateway} answers probes again on node ${this.#o.nodeName}${t.rttMs === undefined ? "" : ` (rtt ${t.rttMs.toFixed(1)} ms)`}`,
          regarding: node,
          onlyAfter: ["down"],
        };
      case "route-failed":
        return {
          subject: destinationSubject(t.route, t.destination),
          state: "failed",
          reason: "RouteFailed",
          type: "Warning",
          action: "Program",
          note: `destination ${t.destination} on node ${this.#o.nodeName}: ${t.reason}`,
          regarding: route(t.route),
        };
      case "route-recovered":
        return {
          subject: destinationSubject(t.route, t.destination),
          state: "programmed",
          reason: "RouteRecovered",
          type: "Normal",
          action: "Program",
          note: `destination ${t.destination} is programmed on node ${this.#o.nodeName} again`,
          regarding: route(t.route),
          onlyAfter: ["failed", "conflicted", "invalid", "skipped"],
        };
      case "route-skipped":
        return {
          subject: destinationSubject(t.route, t.destination),
          state: "skipped",
          reason: "RouteSkipped",
          type: "Normal",
          action: "Select",
          note: `destination ${t.destination} on node ${this.#o.nodeName}: ${t.reason}`,
          regarding: route(t.route),
          // A gateway node from the start is no news; one that becomes it (a floating
          // address moving in) is, and so is the end of a failure it explains.
          onlyAfter: ["programmed", "failed", "conflicted", "invalid"],
        };
      case "conflict":
        return {
          subject: destinationSubject(t.route, t.destination),
          state: "conflicted",
          reason: "DestinationConflict",
          type: "Warning",
          action: "Select",
          note: `destination ${t.destination} is not programmed on node ${this.#o.nodeName}: ${t.reason}`,
          regarding: route(t.route),
        };
      case "invalid-destination":
        return {
          subject: destinationSubject(t.route, t.destination),
          state: "invalid",
          reason: "InvalidDestination",
          type: "Warning",
          action: "Validate",
          // On this node: a gateway off-link here refuses it here only, as the other notes say.
          note: `destination ${JSON.stringify(t.destination)} refused on node ${this.#o.nodeName}: ${t.reason}`,
          regarding: route(t.route),
        };
      case "fail-static": {
        const what =
          t.destinations.length === 1
            ? `destination ${t.destinations[0]}`
            : `${t.destinations.length} destinations (${t.destinations.join(", ")})`;
        return {
          subject: failStaticSubject(t.route),
          state: "fail-static",
          reason: "RouteFailStatic",
          type: "Warning",
          action: "Probe",
          note: `${what} on node ${this.#o.nodeName}: every gateway is down (${t.gateways.join(", ")}); kept on all of them (fail-static)`,
          regarding: route(t.route),
        };
      }
      case "fail-static-cleared":
        return {
          subject: failStaticSubject(t.route),
          state: "ok",
          reason: "RouteFailStaticCleared",
          type: "Normal",
          action: "Probe",
          note: `no destination of Route ${t.route} is fail-static on node ${this.#o.nodeName} any more`,
          regarding: route(t.route),
          onlyAfter: ["fail-static"],
        };
    }
  }

  /** Unique per Event, like client-go's `<object>.<hex timestamp>`. */
  #eventName(spec: EventSpec, at: number): string {
    const salt = Math.floor(Math.random() * 0xffff)
      .toString(16)
      .padStart(4, "0");
    const suffix = `${at.toString(16)}${salt}${(this.#sequence++).toString(16)}`;
    // A name is at most 253 characters and the subject's may be 253 already: it gives way,
    // and a cut never leaves a label ending in "-" or ".".
    const subject = spec.regarding.name.slice(0, MAX_NAME - suffix.length - 1).replace(/[-.]+$/, "");
    return `${subject}.${suffix}`;
  }

  async #write(spec: EventSpec, { name, at }: EventIdentity, attempt: number): Promise<void> {
    try {
      await this.#client.create(`/apis/events.k8s.io/v1/namespaces/${EVENT_NAMESPACE}/events`, {
        metadata: { name, namespace: EVENT_NAMESPACE },
        eventTime: microTime(at),
        reportingController: "kroute.dev/agent",
        reportingInstance: reportingInstance(this.#o.nodeName),
        action: spec.action,
        reason: spec.reason,
        type: spec.type,
        note: spec.note.slice(0, MAX_NOTE),
        regarding: spec.regarding,
        ...(spec.regarding.kind === "Node"
          ? {}
          : { related: { apiVersion: "v1", kind: "Node", name: this.#o.nodeName } }),
      });
      this.#next(spec.subject);
    } catch (err) {
      // A retry of a write whose answer was lost finds it written.
      if (attempt > 0 && err instanceof KubeApiError && err.code === 409) {
        this.#next(spec.subject);
        return;
      }
      this.#o.onError?.(err);
      this.#retryLater(spec, { name, at }, attempt, err);
    }
  }
}

/** `kroute-agent-NODE`, cut to the API server's limit from the front of the node name: a pool's nodes differ at the end. */
function reportingInstance(nodeName: string): string {
  return INSTANCE_PREFIX + nodeName.slice(-(MAX_REPORTING_INSTANCE - INSTANCE_PREFIX.length));
}

/** A MicroTime (RFC 3339 with six fractional digits), as events.k8s.io/v1 requires for eventTime. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

/**
 * A failure that may pass: the API server shedding load (429), failing (5xx), or no
 * answer at all (a cut connection, a timeout). A refusal (403, 422) would only repeat.
 */
function mayPass(error: unknown): boolean {
  if (!(error instanceof KubeApiError)) return true;
  return error.code === 429 || error.code >= 500;
}

/** States whose Event is a warning: a subject leaving in one of them gets a last word. */
const WARNING_STATES: ReadonlySet<string> = new Set(["failed", "conflicted", "invalid"]);

function gatewaySubject(gateway: string): string {
  return `gateway/${gateway}`;
}

function destinationSubject(route: string, destination: string): string {
  return `destination/${route}/${destination}`;
}

/** [route, destination] of a destination subject: a Route's name has no "/", a destination may (a prefix). */
function splitDestinationSubject(subject: string): [string, string] {
  const rest = subject.slice("destination/".length);
  const slash = rest.indexOf("/");
  return [rest.slice(0, slash), rest.slice(slash + 1)];
}

function failStaticSubject(route: string): string {
  return `fail-static/${route}`;
}
