import type { IpAddr, KernelNexthop, KernelRoute, KernelRule, Prefix } from "@kroute/core";
import type fc from "fast-check";
import { settle } from "../invariants.ts";
import type { Model } from "../model.ts";
import type { World } from "../world.ts";

export type ForeignObject =
  | { readonly kind: "route"; readonly dst: Prefix; readonly metric: number; readonly table: number }
  | { readonly kind: "nexthop"; readonly id: number }
  | { readonly kind: "rule"; readonly priority: number };

/** Another tool (a CNI, an operator with `ip`) adds its own route, nexthop or rule. */
export class ForeignObjectCommand implements fc.Command<Model, World> {
  readonly object: ForeignObject;
  constructor(object: ForeignObject) {
    this.object = object;
  }
  check(): boolean {
    return true;
  }
  run(model: Model, world: World): void {
    const object = this.object;
    switch (object.kind) {
      case "route": {
        const v6 = object.dst.includes(":");
        const route: KernelRoute = {
          family: v6 ? 6 : 4,
          table: object.table,
          dst: object.dst,
          metric: object.metric,
          protocol: 4, // static
          scope: 0,
          target: {
            kind: "gateways",
            nexthops: [{ gateway: (v6 ? "fd00::99" : "10.114.0.99") as IpAddr, dev: "eth1", weight: 1 }],
          },
        };
        const [result] = world.kernel.applySync([{ object: "route", action: "add", to: route }]);
        // IPv6 keeps metric 0 as 1024: the model holds what the kernel holds.
        if (result?.ok)
          model.foreignRoutes.push(v6 && route.metric === 0 ? { ...route, metric: 1024 } : route);
        break;
      }
      case "nexthop": {
        const nexthop: KernelNexthop = {
          kind: "gateway",
          id: object.id,
          family: 4,
          protocol: 4,
          gateway: "10.114.0.98" as IpAddr,
          dev: "eth1",
        };
        const [result] = world.kernel.applySync([{ object: "nexthop", action: "add", to: nexthop }]);
        if (result?.ok) model.foreignNexthops.push(nexthop);
        break;
      }
      case "rule": {
        const rule: KernelRule = { family: 4, priority: object.priority, table: 77, protocol: 4 };
        const [result] = world.kernel.applySync([{ object: "rule", action: "add", to: rule }]);
        if (result?.ok) model.foreignRules.push(rule);
        break;
      }
    }
    settle(model, world);
  }
  toString(): string {
    return `foreign(${JSON.stringify(this.object)})`;
  }
}
