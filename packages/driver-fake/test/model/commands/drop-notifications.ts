import type fc from "fast-check";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

/** The notification socket overflows: the next few notifications are lost behind one overflow signal. */
export class DropNotificationsCommand implements fc.Command<Model, World> {
  readonly count: number;
  constructor(count: number) {
    this.count = count;
  }
  check(): boolean {
    return true;
  }
  run(_model: Model, world: World): void {
    world.kernel.dropNotifications(this.count);
  }
  toString(): string {
    return `drop-notifications(${this.count})`;
  }
}
