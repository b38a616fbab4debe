import type fc from "fast-check";
import { expect } from "vitest";
import { checkInvariants } from "../invariants.ts";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

/** The agent restarts: a fresh engine adopts what the kernel holds without touching anything. */
export class RestartAgentCommand implements fc.Command<Model, World> {
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    world.restart();
    expect(world.reconcile(), "ops applied after a restart with nothing changed").toBe(0);
    checkInvariants(model, world);
  }
  toString(): string {
    return "restart";
  }
}
