/**
 * What the guards of one batch (replace-guard.ts, nexthop-guard.ts,
 * nexthop-users-guard.ts) read of the kernel before it is written: each dump taken at
 * most once per batch, and only if a guard asks for it.
 */
import type { Family } from "@kroute/core";
import type { DumpResult, NetlinkConnection } from "./connection.ts";
import { dump, NEXTHOP_DUMP, routeDump } from "./snapshot.ts";

export class BatchDumps {
  readonly #connection: NetlinkConnection;
  #nexthops: Promise<DumpResult> | undefined;
  readonly #routes = new Map<Family, Promise<DumpResult>>();

  constructor(connection: NetlinkConnection) {
    this.#connection = connection;
  }

  /** Every nexthop object, whoever owns it. */
  nexthops(): Promise<DumpResult> {
    this.#nexthops ??= dump(this.#connection, NEXTHOP_DUMP);
    return this.#nexthops;
  }

  /** Every route of a family, in every table, whoever owns it, in the kernel's order. */
  routes(family: Family): Promise<DumpResult> {
    let routes = this.#routes.get(family);
    if (routes === undefined) {
      routes = dump(this.#connection, routeDump(family, undefined, undefined));
      this.#routes.set(family, routes);
    }
    return routes;
  }
}
