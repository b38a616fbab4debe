/**
 * What happened on each node during a replay or a cluster run, kept for the HTML
 * report: gateway health transitions, routes programmed after each step, the ops
 * applied and the invariant violations found.
 */
export interface GatewayMark {
  readonly seq: number;
  readonly at: string;
  readonly up: boolean;
}

export interface StepMark {
  readonly seq: number;
  readonly at: string;
  /** Number of kroute-owned routes after the step. */
  readonly routes: number;
  /** The ops applied, as `ip`-style lines. */
  readonly ops: readonly string[];
  readonly violations: readonly string[];
}

export interface NodeTimeline {
  readonly node: string;
  readonly gateways: Map<string, GatewayMark[]>;
  readonly steps: StepMark[];
}

export class Timeline {
  readonly nodes = new Map<string, NodeTimeline>();
  firstSeq = Number.POSITIVE_INFINITY;
  lastSeq = 0;

  /** When false nothing is kept (no report was asked for): replay of big logs stays lean. */
  readonly enabled: boolean;

  constructor(enabled: boolean) {
    this.enabled = enabled;
  }

  private node(name: string): NodeTimeline {
    let timeline = this.nodes.get(name);
    if (timeline === undefined) {
      timeline = { node: name, gateways: new Map(), steps: [] };
      this.nodes.set(name, timeline);
    }
    return timeline;
  }

  seen(seq: number): void {
    if (seq < this.firstSeq) this.firstSeq = seq;
    if (seq > this.lastSeq) this.lastSeq = seq;
  }

  gateway(node: string, gateway: string, mark: GatewayMark): void {
    if (!this.enabled) return;
    const marks = this.node(node).gateways.get(gateway);
    if (marks === undefined) this.node(node).gateways.set(gateway, [mark]);
    else if (marks[marks.length - 1]?.up !== mark.up) marks.push(mark);
  }

  /**
   * Adds marks kept by another timeline (the shares of a parallel replay, or one more
   * log for the same report), as if they had been marked here.
   */
  absorb(nodes: Iterable<NodeTimeline>, firstSeq: number, lastSeq: number): void {
    this.firstSeq = Math.min(this.firstSeq, firstSeq);
    this.lastSeq = Math.max(this.lastSeq, lastSeq);
    for (const node of nodes) {
      for (const [gateway, marks] of node.gateways)
        for (const mark of marks) this.gateway(node.node, gateway, mark);
      for (const mark of node.steps) this.step(node.node, mark);
    }
  }

  step(node: string, mark: StepMark): void {
    if (!this.enabled) return;
    const steps = this.node(node).steps;
    const previous = steps[steps.length - 1];
    // Keep only steps that changed something, so long logs give readable pages.
    if (mark.ops.length > 0 || mark.violations.length > 0 || previous?.routes !== mark.routes)
      steps.push(mark);
  }
}
