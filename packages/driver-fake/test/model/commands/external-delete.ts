import { ownedFromSnapshot, ownedObjects } from "@kroute/core";
import type fc from "fast-check";
import { settle } from "../invariants.ts";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

/** Someone runs `ip route del` or `ip nexthop del` on one of kroute's objects. */
export class ExternalDeleteCommand implements fc.Command<Model, World> {
  readonly kind: "route" | "nexthop";
  readonly pick: number;
  constructor(kind: "route" | "nexthop", pick: number) {
    this.kind = kind;
    this.pick = pick;
  }
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    const owned = ownedObjects(ownedFromSnapshot(world.kernel.listSync(), world.settings));
    if (this.kind === "route") {
      const route = owned.routes[this.pick % Math.max(1, owned.routes.length)];
      if (route !== undefined) world.kernel.applySync([{ object: "route", action: "delete", from: route }]);
    } else {
      const nexthop = owned.nexthops[this.pick % Math.max(1, owned.nexthops.length)];
      if (nexthop !== undefined)
        world.kernel.applySync([{ object: "nexthop", action: "delete", from: nexthop }]);
    }
    settle(model, world);
  }
  toString(): string {
    return `external-delete(${this.kind} #${this.pick})`;
  }
}
