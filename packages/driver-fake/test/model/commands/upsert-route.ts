import type fc from "fast-check";
import { settle } from "../invariants.ts";
import type { Model, ModelRoute } from "../model.ts";
import type { World } from "../world.ts";

/** A Route is created or its spec changes (its creationTimestamp stays what it was). */
export class UpsertRouteCommand implements fc.Command<Model, World> {
  readonly route: ModelRoute;
  constructor(route: ModelRoute) {
    this.route = route;
  }
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    const existing = model.routes.get(this.route.name);
    const route = {
      ...this.route,
      creationTimestamp: existing?.creationTimestamp ?? this.route.creationTimestamp,
    };
    model.routes.set(route.name, route);
    const generation = (world.apiRoutes.get(route.name)?.metadata.generation ?? 0) + 1;
    const object = {
      metadata: { name: route.name, generation, creationTimestamp: route.creationTimestamp },
      spec: {
        destinations: route.destinations,
        gateways: route.gateways,
        probe: route.probe,
        ...(route.table === undefined ? {} : { table: route.table }),
      },
    };
    world.apiRoutes.set(route.name, object);
    world.feed({ type: "route/upserted", route: object });
    settle(model, world);
  }
  toString(): string {
    return `upsert(${JSON.stringify(this.route)})`;
  }
}
