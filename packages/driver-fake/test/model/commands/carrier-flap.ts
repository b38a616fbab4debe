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
  constructor(dev: string) {
    this.dev = dev;
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
    settle(model, world);
  }
  toString(): string {
    return `carrier-flap(${this.dev})`;
  }
}
