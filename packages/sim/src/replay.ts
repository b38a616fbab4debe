/**
 * Replays an event log for every node it names. Route events are cluster-wide and go
 * to every node; a node first named after some Route events starts from the Routes
 * as they stand then (a `route/resynced` if the log had one, else the upserts in
 * order), as an agent starting at that moment would list them.
 */
import type { EngineEvent, RouteObject } from "@kroute/core";
import { formatOp } from "./format.ts";
import { NodeSim, type Step, type Violation } from "./node-sim.ts";
import type { Timeline } from "./timeline.ts";

export interface ReplayOptions {
  /** Only this node is simulated (--node). */
  readonly node?: string;
  /**
   * Only nodes passing this filter are simulated (benchmark slices, one worker's share
   * of a parallel replay). Asked once per node, in the order nodes first appear.
   */
  readonly nodeFilter?: (node: string) => boolean;
  /** Stop after the last event with seq <= until. */
  readonly until?: number;
  /** Called after every step that applied ops or found violations (--verbose, reports). */
  readonly onStep?: (node: string, step: Step) => void;
  readonly timeline?: Timeline;
  /** performance.now() after which no further event is delivered (benchmark budgets); `stopped` says so. */
  readonly deadline?: number;
}

export class Replayer {
  readonly nodes = new Map<string, NodeSim>();
  private readonly routes = new Map<string, RouteObject>();
  /** Nodes the filter left out. */
  private readonly skipped = new Set<string>();
  private routesSynced = false;
  /**
   * The Routes as they stand, one array for every node that starts before they change:
   * the core indexes a snapshot array once and shares it (core shared-routes.ts).
   */
  private snapshot: RouteObject[] | undefined;
  private readonly options: ReplayOptions;
  /** Events applied to one node each: the benchmark's unit. */
  nodeEvents = 0;
  events = 0;
  stopped = false;
  /** The seq of the first event after `until`, which stopped the replay; undefined if none came. */
  pastUntil: number | undefined;

  constructor(options: ReplayOptions = {}) {
    this.options = options;
  }

  /** Feeds one event of the log. Returns false once `until` has been passed. */
  push(event: EngineEvent): boolean {
    if (this.pastDeadline()) return false;
    if (this.options.until !== undefined && event.seq > this.options.until) {
      this.stopped = true;
      this.pastUntil = event.seq;
      return false;
    }
    this.events++;
    this.options.timeline?.seen(event.seq);
    switch (event.type) {
      case "route/upserted":
        this.routes.set(event.route.metadata.name, event.route);
        this.snapshot = undefined;
        this.broadcast(event);
        break;
      case "route/deleted":
        this.routes.delete(event.name);
        this.snapshot = undefined;
        this.broadcast(event);
        break;
      case "route/resynced":
        this.routes.clear();
        for (const route of event.routes) this.routes.set(route.metadata.name, route);
        this.routesSynced = true;
        this.snapshot = undefined;
        this.broadcast(event);
        break;
      default:
        if (this.options.node !== undefined && event.node !== this.options.node) break;
        if (this.filteredOut(event.node)) break;
        this.deliver(this.node(event.node, event), event);
    }
    return true;
  }

  /** To every node, all of them: a deadline stops a replay between events, never inside one. */
  private broadcast(event: EngineEvent): void {
    for (const sim of this.nodes.values()) this.deliver(sim, event);
  }

  private filteredOut(node: string): boolean {
    const filter = this.options.nodeFilter;
    if (filter === undefined || this.nodes.has(node)) return false;
    if (this.skipped.has(node)) return true;
    if (filter(node)) return false;
    this.skipped.add(node);
    return true;
  }

  private pastDeadline(): boolean {
    if (this.options.deadline === undefined || performance.now() < this.options.deadline) return false;
    this.stopped = true;
    return true;
  }

  private node(name: string, cause: EngineEvent): NodeSim {
    let sim = this.nodes.get(name);
    if (sim !== undefined) return sim;
    sim = new NodeSim(name);
    this.nodes.set(name, sim);
    const envelope = { v: 1, seq: cause.seq, at: cause.at } as const;
    if (this.routesSynced) {
      this.snapshot ??= [...this.routes.values()];
      sim.handle({ ...envelope, type: "route/resynced", routes: this.snapshot });
    } else {
      for (const route of this.routes.values()) sim.handle({ ...envelope, type: "route/upserted", route });
    }
    return sim;
  }

  private deliver(sim: NodeSim, event: EngineEvent): void {
    this.nodeEvents++;
    const step = sim.handle(event);
    if (event.type === "probe/result") {
      this.options.timeline?.gateway(sim.name, event.gateway, { seq: event.seq, at: event.at, up: event.up });
    }
    this.observe(sim, step);
  }

  private observe(sim: NodeSim, step: Step): void {
    const timeline = this.options.timeline;
    if (timeline?.enabled === true) {
      timeline.step(sim.name, {
        seq: step.seq,
        at: step.at,
        routes: sim.owned.routes.size,
        ops: step.results.map(({ op, result }) =>
          result.ok ? formatOp(op) : `${formatOp(op)}  => ${result.code}: ${result.message}`,
        ),
        violations: step.violations.map((v) => v.message),
      });
    }
    if (step.results.length > 0 || step.violations.length > 0) this.options.onStep?.(sim.name, step);
  }

  /** Ends the replay: final checks per node. */
  finish(): void {
    for (const sim of this.nodes.values()) {
      const violations: Violation[] = sim.finish();
      if (violations.length > 0) {
        this.observe(sim, { seq: sim.lastSeq, at: "end of log", results: [], violations });
      }
    }
  }
}
