/**
 * One simulated node: the core's state, the fake kernel it programs, and the
 * invariant checks after every step. Events go in one at a time; after each, the
 * node reconciles (plan, apply to the fake kernel, feed the results back) exactly as
 * the agent's engine does, and then plans again: a second plan must be empty.
 *
 * Recorded agent logs carry the agent's own kernel observations; the rules for them
 * are in packages/sim/README.md ("Recorded logs") and in `handle` below.
 */
import {
  type AddressBits,
  addressBits,
  DEFAULT_SETTINGS,
  type EngineEvent,
  type EngineSettings,
  type EventOf,
  type FlowQuery,
  familyOf,
  hmGet,
  type IpAddr,
  initialNodeState,
  type KernelChange,
  type KernelRoute,
  type KernelSnapshot,
  type LookupResult,
  maxPrefixLength,
  type NodeState,
  type Op,
  type OpResult,
  plan,
  prefixAddress,
  prefixLength,
  reduce,
  routeKey,
} from "@kroute/core";
import { createFakeKernel, type FakeKernel } from "@kroute/driver-fake";
import { applyToFake } from "./external-change.ts";
import { formatOp, routeHops } from "./format.ts";
import { hostDescription } from "./host-kernel.ts";
import { OwnedMirror } from "./mirror.ts";

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

/** Destinations used to check that replies from the node's own addresses keep the original gateway. */
const REPLY_PROBE: Record<4 | 6, IpAddr> = { 4: "192.0.2.1" as IpAddr, 6: "2001:db8::1" as IpAddr };

export class NodeSim {
  readonly name: string;
  private state: NodeState;
  private kernel: FakeKernel | undefined;
  private host: EventOf<"host/observed"> | undefined;
  /** Gateways whose last probe result said down. */
  private readonly down = new Set<string>();
  /** The fake kernel's owned objects, followed through its change notifications. */
  readonly owned = new OwnedMirror();
  /** What the recording agent's kernel held, from its recorded kernel/observed and dataplane/applied. */
  private recorded: OwnedMirror | undefined;
  /** The first recorded kernel/observed arrived before this node's host facts: it seeds the kernel. */
  private pendingSeed: KernelSnapshot | undefined;
  private touched = false;
  private applying = false;
  /** While an external change is applied: the fake kernel's notifications, for the core. */
  private external: KernelChange[] | undefined;
  private stepViolations: Violation[] = [];
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
    return protocol === this.state.settings.protocol;
  }

  /** Feeds one event (already addressed to this node) and reconciles. */
  handle(event: EngineEvent): Step {
    this.seq = event.seq;
    this.stepViolations = [];
    let probed: IpAddr | undefined;
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
        if (this.kernel === undefined) this.createKernel(event);
        break;
      case "kernel/observed":
        this.observeRecordedDump(event);
        break;
      case "kernel/changed":
        this.applyExternalChange(event);
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
    const results = this.reconcile(event);
    if (probed !== undefined) this.checkHealth([probed]);
    const step: Step = { seq: event.seq, at: event.at, results, violations: this.stepViolations };
    this.violations.push(...this.stepViolations);
    return step;
  }

  private violation(message: string): void {
    this.stepViolations.push({ seq: this.seq, message });
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
    this.host = event;
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
    const subject =
      change.kind === "route"
        ? change.route
        : change.kind === "nexthop"
          ? change.nexthop
          : change.kind === "rule"
            ? change.rule
            : undefined;
    if (subject === undefined || change.kind === "overflow") return;
    if (this.isOwned(subject.protocol)) this.owned.applyChange(change);
    else if (this.applying)
      this.violation(
        `a foreign ${change.kind} changed while kroute applied its ops: ${change.action} ${JSON.stringify(subject)}`,
      );
  }

  /** Installs the owned objects a recorded agent found at start (a restart adopting its routes). */
  private seed(snapshot: KernelSnapshot): void {
    if (this.kernel === undefined) return;
    const owned = (p: number): boolean => this.isOwned(p);
    const ops: Op[] = [
      ...snapshot.nexthops
        .filter((nh) => owned(nh.protocol) && nh.kind === "gateway")
        .map((to) => ({ object: "nexthop" as const, action: "add" as const, to })),
      ...snapshot.nexthops
        .filter((nh) => owned(nh.protocol) && nh.kind === "group")
        .map((to) => ({ object: "nexthop" as const, action: "add" as const, to })),
      ...snapshot.routes
        .filter((r) => owned(r.protocol))
        .map((to) => ({ object: "route" as const, action: "add" as const, to })),
      ...snapshot.rules
        .filter((r) => owned(r.protocol))
        .map((to) => ({ object: "rule" as const, action: "add" as const, to })),
    ];
    const results = this.kernel.applySync(ops);
    results.forEach((result, i) => {
      if (!result.ok)
        this.violation(
          `recorded kernel state cannot be installed: ${formatOp(ops[i] as Op)}: ${result.message}`,
        );
    });
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
    const notified: KernelChange[] = [];
    this.external = notified;
    try {
      applyToFake(event.change, kernel);
    } finally {
      this.external = undefined;
    }
    if (notified.length === 0) {
      this.feed(event);
      return;
    }
    for (const change of notified) this.feed({ ...event, change });
  }

  private reconcile(cause: { seq: number; at: string }): { op: Op; result: OpResult }[] {
    const kernel = this.kernel;
    if (kernel === undefined) return [];
    const ops = plan(this.state);
    if (ops.length === 0) return [];
    for (const op of ops)
      if (!this.opIsOwned(op)) this.violation(`op names a foreign object: ${formatOp(op)}`);
    this.applying = true;
    let answers: OpResult[];
    try {
      answers = touchesDefaultRoute(ops) ? this.applyOneByOne(kernel, ops) : kernel.applySync(ops);
    } finally {
      this.applying = false;
    }
    this.touched = true;
    const results = ops.map((op, i) => ({ op, result: answers[i] ?? { ok: true as const } }));
    this.feed({ v: 1, seq: cause.seq, at: cause.at, type: "dataplane/applied", node: this.name, results });
    const again = plan(this.state);
    if (again.length > 0) {
      this.violation(`second reconcile is not empty: ${again.length} ops, first ${formatOp(again[0] as Op)}`);
    }
    const written = new Set<IpAddr>();
    for (const op of ops) for (const g of this.owned.gatewaysWritten(op)) written.add(g);
    this.checkHealth(written);
    for (const problem of this.overrideProblems().values()) this.violation(problem);
    return results;
  }

  /**
   * SPEC §3 item 5 orders an override: protected host routes and the reply rule first,
   * then the override; so when a batch touches a default route, the override check runs
   * after every op of it, not only after the batch.
   */
  private applyOneByOne(kernel: FakeKernel, ops: readonly Op[]): OpResult[] {
    const answers: OpResult[] = [];
    const transient = new Map<string, string>();
    const watched = this.protectedAddresses().flatMap((a) => addressBits(a) ?? []);
    for (const op of ops) {
      answers.push(...kernel.applySync([op]));
      if (!mayMoveProtected(op, watched)) continue;
      for (const [subject, problem] of this.overrideProblems()) {
        if (!transient.has(subject))
          transient.set(subject, `${problem} during the apply, after "${formatOp(op)}"`);
      }
    }
    const settled = this.overrideProblems();
    for (const [subject, problem] of transient) if (!settled.has(subject)) this.violation(problem);
    return answers;
  }

  private opIsOwned(op: Op): boolean {
    const { nexthopIdBase, nexthopIdCount } = this.state.settings;
    const objects = [...("from" in op ? [op.from] : []), ...("to" in op ? [op.to] : [])];
    return objects.every((o) => {
      if (!this.isOwned(o.protocol)) return false;
      if ("id" in o && (o.id < nexthopIdBase || o.id >= nexthopIdBase + nexthopIdCount)) return false;
      return true;
    });
  }

  /**
   * A route through a gateway known down while another of its gateways (or its Route's)
   * is up. Checked for the routes through the gateways a step wrote or probed.
   */
  private checkHealth(gateways: Iterable<IpAddr>): void {
    if (this.down.size === 0) return;
    const seen = new Set<string>();
    for (const gateway of gateways) {
      for (const { route, count } of this.owned.routesVia(gateway)) {
        const key = routeKey(route);
        if (seen.has(key)) continue;
        seen.add(key);
        const via = routeHops(route, this.owned.nexthops).map((h) => h.gateway);
        const dead = via.filter((g) => this.down.has(g));
        if (dead.length === 0) continue;
        const configured = this.configuredGateways(route);
        if (configured === undefined) continue;
        const others = count > 1 ? ` (and ${count - 1} more routes through the same nexthop)` : "";
        const alive = via.filter((g) => !this.down.has(g));
        const upElsewhere = configured.filter((g) => !this.down.has(g));
        if (alive.length > 0) {
          this.violation(
            `${route.dst} table ${route.table}${others} goes via ${dead.join(", ")} (down) while ${alive.join(", ")} is up`,
          );
        } else if (upElsewhere.length > 0) {
          this.violation(
            `${route.dst} table ${route.table}${others} goes only via down ${dead.join(", ")} while ${upElsewhere.join(", ")} is up`,
          );
        }
      }
    }
  }

  /**
   * The gateways the winning Route configured for a kernel route (before health), or
   * undefined when the core trusts them unprobed (`probe: false`) or did not ask for the
   * route: read from the core's incrementally kept claims, a lookup, not a table walk.
   */
  private configuredGateways(route: KernelRoute): IpAddr[] | undefined {
    const { contenders, sets } = this.state.derived;
    const set = hmGet(contenders, routeKey(route))?.[0]?.set;
    const gatewaySet = set === undefined ? undefined : hmGet(sets, set);
    if (gatewaySet === undefined || !gatewaySet.probe) return undefined;
    return gatewaySet.members.map((m) => m.gateway);
  }

  /** The addresses a default-route override must not capture (host facts; host prefixes of `protect`). */
  private protectedAddresses(): IpAddr[] {
    const host = this.host;
    if (host === undefined) return [];
    return [
      ...host.apiServers,
      ...host.dns,
      ...host.protect.filter((p) => prefixLength(p) === maxPrefixLength(familyOf(p))).map(prefixAddress),
    ];
  }

  /**
   * Under a default-route override, protected addresses and replies from the node's own
   * addresses on the original interface must keep the original gateway. Returns the
   * problems by subject (an address), so a batch can report each subject once.
   */
  private overrideProblems(): Map<string, string> {
    const problems = new Map<string, string>();
    const kernel = this.kernel;
    const host = this.host;
    if (kernel === undefined || host === undefined) return problems;
    for (const route of this.owned.defaultRoutes.values()) {
      // Only the main table decides where the node's own traffic goes by default.
      if (route.table !== 254) continue;
      const family = route.family;
      const original = host.defaultGateways.find((g) => familyOf(g.via) === family);
      if (original === undefined) continue;
      const protectedAddresses = this.protectedAddresses().filter((a) => familyOf(a) === family);
      const describe = (answer: LookupResult): string =>
        answer.ok ? `via ${answer.gateway ?? `dev ${answer.dev}`}` : answer.message;
      for (const address of protectedAddresses) {
        const answer = kernel.lookupSync({ dst: address });
        // A directly connected address is not captured by the override either.
        if (!answer.ok || (answer.gateway !== undefined && answer.gateway !== original.via)) {
          problems.set(
            address,
            `protected ${address} is routed ${describe(answer)}, not via the original gateway ${original.via}`,
          );
        }
      }
      for (const address of host.addresses) {
        if (address.dev !== original.dev || familyOf(address.ip) !== family) continue;
        const answer = kernel.lookupSync({ dst: REPLY_PROBE[family], src: address.ip });
        if (!answer.ok || answer.gateway !== original.via) {
          problems.set(
            `from ${address.ip}`,
            `replies from ${address.ip} are routed ${describe(answer)}, not via the original gateway ${original.via}`,
          );
        }
      }
    }
    return problems;
  }

  /** Final checks: the replay ends holding what the recording agent's kernel held. */
  finish(): Violation[] {
    this.stepViolations = [];
    if (this.recorded !== undefined && this.kernel !== undefined) {
      const replayed = summarize(this.owned);
      const recorded = summarize(this.recorded);
      for (const line of recorded)
        if (!replayed.has(line)) this.violation(`recorded agent held ${line}; the replay does not`);
      for (const line of replayed)
        if (!recorded.has(line)) this.violation(`the replay holds ${line}; the recorded agent did not`);
    }
    this.violations.push(...this.stepViolations);
    return this.stepViolations;
  }

  /** Where the node's kernel would send a flow (the cluster command's egress view). */
  lookup(query: FlowQuery): LookupResult | undefined {
    return this.kernel?.lookupSync(query);
  }

  snapshot(): KernelSnapshot | undefined {
    return this.kernel?.listSync({ protocol: this.state.settings.protocol });
  }
}

/** Whether an op can change where a protected address or a reply goes: only those are checked op by op. */
function mayMoveProtected(op: Op, watched: readonly AddressBits[]): boolean {
  if (op.object !== "route") return true;
  const dst = op.action === "delete" ? op.from.dst : op.to.dst;
  const length = prefixLength(dst);
  if (length === 0) return true;
  // One parse per op, not one per protected address: this runs for every op of a big batch.
  const network = addressBits(prefixAddress(dst));
  if (network === undefined) return true;
  return watched.some((address) => {
    if (address.family === 4 && network.family === 4) {
      return (address.bits & (0xffffffff << (32 - length))) >>> 0 === network.bits;
    }
    if (address.family === 6 && network.family === 6)
      return address.bits >> BigInt(128 - length) === network.bits >> BigInt(128 - length);
    return false;
  });
}

function touchesDefaultRoute(ops: readonly Op[]): boolean {
  return ops.some(
    (op) => op.object === "route" && prefixLength(op.action === "delete" ? op.from.dst : op.to.dst) === 0,
  );
}

function summarize(mirror: OwnedMirror): Set<string> {
  const lines = new Set<string>();
  for (const route of mirror.routes.values()) {
    lines.add(
      `${route.dst} table ${route.table} metric ${route.metric} via ${mirror.gatewaysOf(route).join(",")}`,
    );
  }
  return lines;
}
