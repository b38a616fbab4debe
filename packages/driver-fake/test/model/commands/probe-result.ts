import type { IpAddr } from "@kroute/core";
import type fc from "fast-check";
import { settle } from "../invariants.ts";
import type { Model } from "../model.ts";
import { NODE, type World } from "../world.ts";

/** A gateway's probe verdict flips (or repeats). */
export class ProbeResultCommand implements fc.Command<Model, World> {
  readonly gateway: IpAddr;
  readonly up: boolean;
  constructor(gateway: IpAddr, up: boolean) {
    this.gateway = gateway;
    this.up = up;
  }
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    if (this.up) model.down.delete(this.gateway);
    else model.down.add(this.gateway);
    world.probes.set(this.gateway, this.up);
    world.feed({ type: "probe/result", node: NODE, gateway: this.gateway, up: this.up, rttMs: 1 });
    settle(model, world);
  }
  toString(): string {
    return `probe(${this.gateway} ${this.up ? "up" : "down"})`;
  }
}
