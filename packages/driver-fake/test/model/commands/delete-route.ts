import type fc from "fast-check";
import { settle } from "../invariants.ts";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

export class DeleteRouteCommand implements fc.Command<Model, World> {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
  check(model: Readonly<Model>): boolean {
    return model.routes.has(this.name);
  }
  run(model: Model, world: World): void {
    model.routes.delete(this.name);
    world.apiRoutes.delete(this.name);
    world.feed({ type: "route/deleted", name: this.name });
    settle(model, world);
  }
  toString(): string {
    return `delete(${this.name})`;
  }
}
