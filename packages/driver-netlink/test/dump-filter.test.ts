/**
 * Route dumps are filtered by the kernel (strict checking), not after the fact: with
 * many routes of other programs, only kroute's table and protocol cross the socket.
 * The driver filters again on its side, so its listings alone cannot show this; the
 * dump's own messages are read here.
 */
import type { Family } from "@kroute/core";
import type { Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import { NetlinkConnection } from "../src/connection.ts";
import { routeDump } from "../src/snapshot.ts";
import { baselineNetns } from "./netns-host.ts";

const PROTO = 240;
const OTHER_PROTO = 4; // static

/** Table and protocol of every route message a filtered dump returned. */
async function dumped(connection: NetlinkConnection, family: Family, table: number, protocol: number) {
  const result = await connection.dump(routeDump(family, table, protocol));
  expect(result.error).toBeUndefined();
  return result.messages.map((m) => {
    if (m.body.kind !== "route") throw new Error(`a route dump returned a ${m.body.kind} message`);
    const route = m.body.route;
    return { table: route.tableId ?? route.table, protocol: route.protocol };
  });
}

describeAsRoot("netlink route dumps", () => {
  let ns: Netns;
  let connection: NetlinkConnection;

  beforeAll(async () => {
    ({ ns } = await baselineNetns());
    // Ours and others' routes in a small table id, a large one (RTA_TABLE) and main.
    for (const table of ["101", "5000", "main"])
      for (const [family, dst, via] of [
        ["-4", "198.51.100.0/24", "10.10.0.2"],
        ["-6", "2001:db8::/48", "fd10::2"],
      ] as const)
        for (const [protocol, metric] of [
          [PROTO, "10"],
          [OTHER_PROTO, "20"],
        ] as const)
          await ns.ip(
            family,
            "route",
            "add",
            dst,
            "via",
            via,
            "table",
            table,
            "proto",
            String(protocol),
            "metric",
            metric,
          );
    connection = NetlinkConnection.open({ netns: ns.name });
  });
  afterAll(async () => {
    connection?.close();
    await ns?.destroy();
  });

  it.each([
    [4, 101],
    [4, 5000],
    [4, 254],
    [6, 101],
    [6, 5000],
    [6, 254],
  ] as const)(
    "IPv%i, table %i: the kernel returns only that table's routes of that protocol",
    async (family, table) => {
      expect(await dumped(connection, family, table, PROTO)).toEqual([{ table, protocol: PROTO }]);
    },
  );
});
