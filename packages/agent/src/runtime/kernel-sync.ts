/**
 * When the node's kernel was last known to hold the desired table: the NodeRouteTable's
 * lastSync. It is the time of the latest engine step at which it did (core
 * kernelHoldsDesired: every source synced, the kernel view complete, nothing pending or
 * refused), and no step counts while the kernel dumps fail: the periodic dump is what
 * finds a change the notifications missed, and a failed one has found nothing.
 */
import { type EngineEvent, kernelHoldsDesired, type NodeState } from "@kroute/core";

export class KernelSync {
  #last: string | undefined;
  #dumpFailing = false;

  /** A kernel dump failed: no step counts as synced until one succeeds. */
  dumpFailed(): void {
    this.#dumpFailing = true;
  }

  step(event: EngineEvent, state: NodeState): void {
    if (event.type === "kernel/observed") this.#dumpFailing = false;
    if (!this.#dumpFailing && kernelHoldsDesired(state)) this.#last = event.at;
  }

  /** ISO time; undefined until the kernel first held the desired table. */
  get last(): string | undefined {
    return this.#last;
  }
}
