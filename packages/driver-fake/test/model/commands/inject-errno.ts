import type fc from "fast-check";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

/** The kernel will refuse the next few requests (ENOBUFS, EBUSY, ENOMEM...), whoever sends them. */
export class InjectErrnoCommand implements fc.Command<Model, World> {
  readonly count: number;
  readonly errno: string;
  constructor(count: number, errno: string) {
    this.count = count;
    this.errno = errno;
  }
  check(): boolean {
    return true;
  }
  run(_model: Model, world: World): void {
    // No reconcile here: the refusals land on whatever the next command makes happen.
    world.kernel.failNext(this.count, this.errno);
  }
  toString(): string {
    return `fail-next(${this.count} ${this.errno})`;
  }
}
