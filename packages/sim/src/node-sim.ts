/**
 * One simulated node: the core's state, the fake kernel it programs, and the invariant
 * checks (check-*.ts) after every step. Events go in one at a time; after each, the
 * node reconciles (plan, apply to the fake kernel, feed the results back) exactly as
 * the agent's engine does, and then plans again: a second plan must be empty.
 *
 * Recorded agent logs carry the agent's own kernel observations; the rules for them
 * are in packages/sim/README.md ("Recorded logs") and in `handle` below.
 */
import {
  DEFAULT_SETTINGS,
  type DumpScope,
  type EngineEvent,
  type EngineSettings,
  type EventOf,
  type FlowQuery,
  type IpAddr,
  initialNodeState,
  isKroutesProtocol,
  isOverrideRoute,
  type KernelChange,
  type KernelRoute,
  type KernelSnapshot,
  krouteProtocols,
  type LookupResult,
  type NodeState,
  nexthopIdInRange,
  type Op,
  type OpResult,
  plan,
  reduce,
  secondStage,
  splitBeforeOverride,
} from "@kroute/core";
import { createFakeKernel, type FakeKernel } from "@kroute/driver-fake";
import { healthProblems } from "./check-health.ts";
import { releasesOnlyWaitingOverrides, secondPlanProblem } from "./check-idempotence.ts";
import { applyWatchingOverride, touchesProtectedRoute } from "./check-override.ts";
import { changedObject, foreignChangeProblem, foreignOpProblems } from "./check-ownership.ts";
import { applyToFake } from "./external-change.ts";
import { hostDescription } from "./host-kernel.ts";
import { KeptOverrideCheck } from "./kept-override-check.ts";
import { MalformedLogError } from "./log-reader.ts";
import { OwnedMirror } from "./mirror.ts";
import { recordedDifferences } from "./recorded-comparison.ts";
import { seedKernel } from "./seed-kernel.ts";

export interface Violation {
  readonly seq: number;
  readonly message: string;
}

export interface Step {
  readonly seq: number;
  readonly at: string;
  readonly results: readonly { readonly op: Op; readonly result: OpResult }[];
  readonly violations: readonly Violation[];
}

export class NodeSim {
  readonly name: string;
  private state: NodeState;
  private kernel: FakeKernel | undefined;
  private host: EventOf<"host/observed"> | undefined;
  /** The host facts before this step's `host/observed`, while the step applies (see check-override.ts). */
  private hostBefore: EventOf<"host/observed"> | undefined;
  /** Gateways whose last probe result said down. */
  private readonly down = new Set<IpAddr>();
  /** The fake kernel's owned objects, followed through its change notifications. */
  readonly owned = new OwnedMirror();
  /** What the recording agent's kernel held, from its recorded kernel/observed and dataplane/applied. */
  private recorded: OwnedMirror | undefined;
  /** The first recorded kernel/observed arrived before this node's host facts: it seeds the kernel. */
  private pendingSeed: KernelSnapshot | undefined;
  /** The fake kernel was seeded or written: a later recorded dump is not installed again. */
  private touched = false;
  private applying = false;
  /** While an external change is applied: the fake kernel's notifications, for the core. */
  private external: KernelChange[] | undefined;
  private stepViolations: Violation[] = [];
  /** The override check after a step, kept while nothing it read changed. */
  private readonly overrideCheck = new KeptOverrideCheck();
  private seq = 0;
  /** Seq of the last event this node saw. */
  get lastSeq(): number {
    return this.seq;
  }
  readonly violations: Violation[] = [];

  constructor(name: string, settings: EngineSettings = DEFAULT_SETTINGS) {
    this.name = name;
    this.state = initialNodeState(name, settings);
  }

  get settings(): EngineSettings {
    return this.state.settings;
  }

  get hasKernel(): boolean {
    return this.kernel !== undefined;
  }

  isOwned(protocol: number): boolean {
    return isKroutesProtocol(protocol, this.state.settings);
  }

  /** Feeds one event (already addressed to this node) and reconciles. */
  handle(event: EngineEvent): Step {
    this.seq = event.seq;
    this.stepViolations = [];
    let probed: IpAddr | undefined;
    const derivedBefore = this.state.derived;
    switch (event.type) {
      case "route/upserted":
      case "route/deleted":
      case "route/resynced":
      case "node/observed":
      case "agent/configured":
      case "timer/fired":
        this.feed(event);
        break;
      case "probe/result":
        if (event.up) this.down.delete(event.gateway);
        else this.down.add(event.gateway);
        probed = event.gateway;
        this.feed(event);
        break;
      case "host/observed":
        this.feed(event);
        // The checks judge by the latest facts, as the core does (the kernel starts from the first).
        this.hostBefore = this.host;
        this.host = event;
        if (this.kernel === undefined) this.refusingBadFacts(event, () => this.createKernel(event));
        break;
      case "kernel/observed":
        this.observeRecordedDump(event);
        break;
      case "kernel/changed":
        this.refusingBadFacts(event, () => this.applyExternalChange(event));
        break;
      case "dataplane/applied":
        // The recording agent's results: never re-applied, only followed (see README).
        this.recorded ??= new OwnedMirror();
        this.recorded.applyResults(event.results);
        break;
      default: {
        const unreachable: never = event;
        throw new Error(`unhandled event ${JSON.stringify(unreachable)}`);
      }
    }
    // Checked once, with the gateways the reconcile writes: a route is reported once per step.
    // Most Route events leave a node's desired table as it was (a Route of another pool):
    // only a step that changed it can have re-configured a gateway.
    const reconfigured = changesConfiguredGateways(event) && this.state.derived !== derivedBefore;
    const recheck = new Set<IpAddr>(reconfigured ? this.down : []);
    if (probed !== undefined) recheck.add(probed);
    const results = this.reconcile(event, recheck);
    // New host facts can move the original gateway, and a change behind kroute's back (a
    // protected route deleted) where a protected address goes, with no op written: check them anyway.
    const movesOverride = event.type === "host/observed" || event.type === "kernel/changed";
    if (movesOverride && results.length === 0 && this.kernel !== undefined)
      this.report(this.overrideProblems(this.kernel).values());
    this.hostBefore = undefined;
    const step: Step = { seq: event.seq, at: event.at, results, violations: this.stepViolations };
    this.violations.push(...this.stepViolations);
    return step;
  }

  /**
   * Host or kernel facts that no kernel could hold (a device name over 15 characters, an
   * address on a device the node lacks, two default routes alike): the log's fault, so
   * a MalformedLogError naming the event, not a crash.
   */
  private refusingBadFacts(event: EngineEvent, take: () => void): void {
    try {
      take();
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new MalformedLogError(`seq ${event.seq}: ${event.type} for node ${this.name}: ${reason}`);
    }
  }

  private violation(message: string): void {
    this.stepViolations.push({ seq: this.seq, message });
  }

  private report(problems: Iterable<string>): void {
    for (const problem of problems) this.violation(problem);
  }

  private feed(event: EngineEvent): void {
    this.state = reduce(this.state, event);
  }

  private dump(): KernelSnapshot {
    if (this.kernel === undefined) throw new Error("no kernel yet");
    return this.kernel.listSync({});
  }

  private feedDump(at: { seq: number; at: string }): void {
    this.feed({
      v: 1,
      seq: at.seq,
      at: at.at,
      type: "kernel/observed",
      node: this.name,
      snapshot: this.dump(),
    });
  }

  private createKernel(event: EventOf<"host/observed">): void {
    const kernel = createFakeKernel(hostDescription(event));
    this.kernel = kernel;
    kernel.watch().subscribe((change) => this.onKernelChange(change));
    if (this.pendingSeed !== undefined) {
      this.seed(this.pendingSeed);
      this.pendingSeed = undefined;
    }
    this.feedDump(event);
  }

  private onKernelChange(change: KernelChange): void {
    this.external?.push(change);
    const changed = changedObject(change);
    if (changed === undefined) return;
    if (this.isOwned(changed.object.protocol)) this.owned.applyChange(change);
    else if (this.applying) this.violation(foreignChangeProblem(changed));
  }

  /**
   * Installs the owned objects a recorded agent found at start (a restart adopting its
   * routes), once: a later recorded dump (a resync) finds them in the fake kernel already.
   */
  private seed(snapshot: KernelSnapshot): void {
    if (this.kernel === undefined) return;
    const inIdRange = (id: number) => nexthopIdInRange(id, this.state.settings);
    this.overrideCheck.forget();
    this.report(seedKernel(this.kernel, snapshot, (p) => this.isOwned(p), inIdRange));
    this.touched = true;
  }

  private observeRecordedDump(event: EventOf<"kernel/observed">): void {
    const owned = (p: number): boolean => this.isOwned(p);
    if (this.recorded === undefined) {
      this.recorded = new OwnedMirror();
      this.recorded.reset(event.snapshot, owned);
    }
    if (this.kernel === undefined) {
      this.pendingSeed ??= event.snapshot;
      return;
    }
    if (!this.touched) this.seed(event.snapshot);
    // The core sees the fake kernel's own dump at the point where the agent dumped.
    this.feedDump(event);
  }

  /**
   * A change made by someone else: applied to the fake kernel (unless it already shows
   * it), and the core is told what the fake kernel then notified, cascades included (a
   * link losing carrier takes its nexthops and routes with it), as the agent would be.
   */
  private applyExternalChange(event: EventOf<"kernel/changed">): void {
    const kernel = this.kernel;
    if (kernel === undefined || event.change.kind === "overflow") {
      this.feed(event);
      return;
    }
    this.overrideCheck.forget();
    const notified: KernelChange[] = [];
    this.external = notified;
    try {
      applyToFake(event.change, kernel);
    } finally {
      this.external = undefined;
    }
    if (event.change.kind === "link" || event.change.kind === "address") this.followSilentFlush(kernel);
    if (notified.length === 0) {
      this.feed(event);
      return;
    }
    for (const change of notified) this.feed({ ...event, change });
  }

  /**
   * A link losing carrier, going down or deleted takes its nexthops, the groups left
   * empty and the routes using them, and a device's last IPv4 address removed takes
   * the IPv4 routes through it; Linux announces none of it (driver-fake nexthop-ops.ts,
   * address-removal.ts): the owned mirror, kept from notifications, is read again from
   * the kernel, or the checks would judge routes that are gone.
   */
  private followSilentFlush(kernel: FakeKernel): void {
    const routesBefore = [...this.owned.routes.keys()];
    const nexthopsBefore = [...this.owned.nexthops.keys()];
    this.owned.reset(kernel.listSync({ protocols: krouteProtocols(this.state.settings) }), (p) =>
      this.isOwned(p),
    );
    this.recorded?.forget(
      routesBefore.filter((key) => !this.owned.routes.has(key)),
      nexthopsBefore.filter((id) => !this.owned.nexthops.has(id)),
    );
  }

  /**
   * `recheck`: gateways whose routes are checked for health even if no op writes them
   * (the one probed; the down ones, when the step changed what the Routes configure).
   */
  private reconcile(
    cause: { seq: number; at: string },
    recheck: Iterable<IpAddr>,
  ): { op: Op; result: OpResult }[] {
    const kernel = this.kernel;
    if (kernel === undefined) return [];
    const ops = plan(this.state);
    if (ops.length === 0) {
      this.checkHealth(recheck);
      return [];
    }
    const planned = this.state;
    const results = this.applyAndFeed(kernel, ops, cause);
    // The engine plans again once the results are in: an override that waited for a
    // protection the batch put in goes in then (core override-stages.ts). Anything else
    // left to do breaks the idempotence invariant.
    let again = plan(this.state);
    if (releasesOnlyWaitingOverrides(planned, again)) {
      results.push(...this.applyAndFeed(kernel, again, cause));
      again = plan(this.state);
    }
    const notIdempotent = secondPlanProblem(again);
    if (notIdempotent !== undefined) this.violation(notIdempotent);
    const written = new Set<IpAddr>(recheck);
    for (const { op } of results) for (const g of this.owned.gatewaysWritten(op)) written.add(g);
    this.checkHealth(written);
    this.report(this.overrideProblems(kernel).values());
    return results;
  }

  /** Applies a plan as the engine does, and feeds the results back to the core. */
  private applyAndFeed(
    kernel: FakeKernel,
    ops: readonly Op[],
    cause: { seq: number; at: string },
  ): { op: Op; result: OpResult }[] {
    this.report(foreignOpProblems(ops, this.state.settings));
    this.applying = true;
    let results: { op: Op; result: OpResult }[];
    try {
      // In two stages when the batch installs an override (core override-stages.ts).
      const { first, rest } = splitBeforeOverride(this.state, ops);
      results = this.applyBatch(kernel, first);
      if (rest.length > 0) results.push(...this.applyBatch(kernel, secondStage(this.state, rest, results)));
    } finally {
      this.applying = false;
    }
    this.touched = true;
    this.feed({ v: 1, seq: cause.seq, at: cause.at, type: "dataplane/applied", node: this.name, results });
    return results;
  }

  /** Applies a batch to the fake kernel; one that can move a protected address op by op (applyOneByOne). */
  private applyBatch(kernel: FakeKernel, ops: readonly Op[]): { op: Op; result: OpResult }[] {
    if (ops.length === 0) return [];
    this.overrideCheck.noteOps(ops, this.host);
    const answers = touchesProtectedRoute(ops, this.host)
      ? this.applyOneByOne(kernel, ops)
      : kernel.applySync(ops);
    return ops.map((op, i) => ({ op, result: answers[i] ?? { ok: true as const } }));
  }

  /** Applies a batch that can move a protected address op by op, checking the override between ops. */
  private applyOneByOne(kernel: FakeKernel, ops: readonly Op[]): OpResult[] {
    const { answers, problems } = applyWatchingOverride(
      kernel,
      ops,
      this.host,
      this.owned,
      this.isOverride,
      this.settings.metric,
      this.hostBefore,
    );
    this.report(problems);
    return answers;
  }

  /** The override's problems now (check-override.ts), by subject. */
  private overrideProblems(kernel: FakeKernel): ReadonlyMap<string, string> {
    return this.overrideCheck.problems(kernel, this.host, this.owned, this.isOverride, this.settings.metric);
  }

  /** Whether an owned route overrides the default route, as the core's claims say (see check-override.ts). */
  private readonly isOverride = (route: KernelRoute): boolean => isOverrideRoute(this.state, route);

  /** The health check for the routes through the gateways a step wrote, probed or re-configured. */
  private checkHealth(gateways: Iterable<IpAddr>): void {
    this.report(healthProblems(gateways, this.down, this.owned, this.state.derived));
  }

  /** Final checks: the replay ends holding what the recording agent's kernel held. */
  finish(): Violation[] {
    this.stepViolations = [];
    if (this.recorded !== undefined && this.kernel !== undefined)
      this.report(recordedDifferences(this.recorded, this.owned));
    this.violations.push(...this.stepViolations);
    return this.stepViolations;
  }

  /** Where the node's kernel would send a flow (the cluster command's egress view). */
  lookup(query: FlowQuery): LookupResult | undefined {
    return this.kernel?.lookupSync(query);
  }

  /** The fake kernel's dump: kroute's own objects, unless the scope says otherwise. */
  snapshot(
    scope: DumpScope = { protocols: krouteProtocols(this.state.settings) },
  ): KernelSnapshot | undefined {
    return this.kernel?.listSync(scope);
  }
}

/**
 * Whether an event can change the gateways a Route configures on this node (a Route
 * changed, or the node's labels select others): a route left through a down gateway
 * then breaks the health invariant though the step wrote and probed nothing.
 */
function changesConfiguredGateways(event: EngineEvent): boolean {
  switch (event.type) {
    case "route/upserted":
    case "route/deleted":
    case "route/resynced":
    case "node/observed":
    case "agent/configured":
      return true;
    default:
      return false;
  }
}
