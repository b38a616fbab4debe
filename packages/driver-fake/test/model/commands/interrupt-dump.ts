import { plan } from "@kroute/core";
import type fc from "fast-check";
import { expect } from "vitest";
import { settle } from "../invariants.ts";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

/** A periodic resync's dump is interrupted: nothing may be deleted on its basis. */
export class InterruptDumpCommand implements fc.Command<Model, World> {
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    world.kernel.interruptNextDump();
    world.dump();
    expect(world.state.kernel.complete).toBe(false);
    expect(plan(world.state).filter((op) => op.action === "delete")).toEqual([]);
    settle(model, world);
  }
  toString(): string {
    return "interrupted-dump";
  }
}
