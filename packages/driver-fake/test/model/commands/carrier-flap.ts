import type fc from "fast-check";
import { settle } from "../invariants.ts";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

/**
 * The gateways' link loses carrier and gets it back. Linux flushes the link's
 * nexthop objects (and the routes using them) on carrier loss without any
 * nexthop or route notification: the engine hears only the link change.
 */
export class CarrierFlapCommand implements fc.Command<Model, World> {
  readonly dev: string;
  /** Whether the agent's periodic resync runs before the check (the only thing that sees the flush today). */
  readonly resync: boolean;
  constructor(dev: string, resync: boolean) {
    this.dev = dev;
    this.resync = resync;
  }
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    world.kernel.setCarrier(this.dev, false);
    // Foreign nexthops on the link go too: Linux does that to everyone's.
    const survivors = model.foreignNexthops.filter(
      (nexthop) => nexthop.kind !== "gateway" || nexthop.dev !== this.dev,
    );
    model.foreignNexthops.splice(0, model.foreignNexthops.length, ...survivors);
    world.reconcile(true);
    world.kernel.setCarrier(this.dev, true);
    if (this.resync) world.dump();
    settle(model, world);
  }
  toString(): string {
    return `carrier-flap(${this.dev}${this.resync ? ", then resync" : ""})`;
  }
}
