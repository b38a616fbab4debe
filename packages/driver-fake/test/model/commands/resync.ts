import type fc from "fast-check";
import { settle } from "../invariants.ts";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

/** The periodic full resync: a fresh dump replaces the engine's view of the kernel. */
export class ResyncCommand implements fc.Command<Model, World> {
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    world.dump();
    settle(model, world);
  }
  toString(): string {
    return "resync";
  }
}
