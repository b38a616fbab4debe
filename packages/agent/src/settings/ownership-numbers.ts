/**
 * The route protocol and reply table kroute marks its kernel objects with. Both
 * the agent and cleanup read the protocol: it is how cleanup finds what to remove.
 * The agent may also be told the protocol it used before (--adopt-protocol), to hand
 * its objects over to the new one.
 */
import { DEFAULT_SETTINGS, type TableRange } from "@kroute/core";
import type { FlagName, RawFlags } from "./flags.ts";
import { fail } from "./settings-error.ts";
import { integer, str } from "./values.ts";

/**
 * Route protocol numbers registered in iproute2's rt_protos (and the kernel's
 * reserved 0..4): owning routes under one of these would make kroute delete
 * someone else's routes.
 */
const WELL_KNOWN_PROTOCOLS: Readonly<Record<number, string>> = {
  0: "unspec",
  1: "redirect",
  2: "kernel",
  3: "boot",
  4: "static",
  8: "gated",
  9: "ra",
  10: "mrt",
  11: "zebra",
  12: "bird",
  13: "dnrouted",
  14: "xorp",
  15: "ntk",
  16: "dhcp",
  17: "mrouted",
  18: "keepalived",
  42: "babel",
  99: "openr",
  186: "bgp",
  187: "isis",
  188: "ospf",
  189: "rip",
  192: "eigrp",
};

/** Tables the kernel itself uses; the reply table must be none of them. */
const RESERVED_TABLES: Readonly<Record<number, string>> = {
  0: "unspec",
  253: "default",
  254: "main",
  255: "local",
};

export function protocolNumber(raw: RawFlags): number {
  const protocol = integer(raw, "protocol", DEFAULT_SETTINGS.protocol, 1, 255);
  const known = WELL_KNOWN_PROTOCOLS[protocol];
  if (known !== undefined) {
    fail(
      "protocol",
      String(protocol),
      `is the well-known route protocol "${known}"; choose an unused number`,
    );
  }
  return protocol;
}

/**
 * One protocol of a list (cleanup's --protocols), refused as the whole list's value: a
 * well-known one is another program's, whose routes cleanup would delete.
 */
export function checkedProtocol(flag: FlagName, list: string, item: string): number {
  const text = item.trim();
  const protocol = Number(text);
  if (!/^\d+$/.test(text) || protocol < 1 || protocol > 255)
    fail(flag, list, `has ${JSON.stringify(item)}: not a route protocol number (1..255)`);
  const known = WELL_KNOWN_PROTOCOLS[protocol];
  if (known !== undefined)
    fail(
      flag,
      list,
      `has ${protocol}, the well-known route protocol "${known}": kroute never used it, and cleanup would delete another program's routes`,
    );
  return protocol;
}

/**
 * The protocol kroute's objects carried before --protocol changed, or undefined. Every
 * object of it is taken for kroute's own and rewritten or deleted: a well-known one (or
 * the new protocol itself) is refused, as no kroute ever held it.
 */
export function adoptProtocolNumber(raw: RawFlags, protocol: number): number | undefined {
  const text = str(raw, "adopt-protocol");
  if (text === undefined || text.trim() === "") return undefined;
  const adopt = integer(raw, "adopt-protocol", 0, 1, 255);
  const known = WELL_KNOWN_PROTOCOLS[adopt];
  if (known !== undefined) {
    fail(
      "adopt-protocol",
      text,
      `is the well-known route protocol "${known}": kroute never used it, and adopting it would take another program's routes`,
    );
  }
  if (adopt === protocol)
    fail("adopt-protocol", text, "is --protocol itself: name the protocol kroute used before");
  return adopt;
}

export function replyTable(raw: RawFlags): number {
  const table = integer(raw, "table-reply", DEFAULT_SETTINGS.replyTable, 1, 0xffffffff);
  const reserved = RESERVED_TABLES[table];
  if (reserved !== undefined) fail("table-reply", String(table), `is the kernel's "${reserved}" table`);
  return table;
}

/**
 * The tables Routes may write (--route-tables "254,100-199"); absent, any. A Route
 * outside them has its destinations refused, naming the table and this list.
 */
export function routeTables(raw: RawFlags): { routeTables?: TableRange[] } {
  const text = str(raw, "route-tables");
  if (text === undefined) return {};
  const ranges = text.split(",").map((item) => {
    const match = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(item);
    const first = Number(match?.[1]);
    const last = match?.[2] === undefined ? first : Number(match[2]);
    if (match === null || first < 1 || last > 0xffffffff || first > last) {
      fail(
        "route-tables",
        text,
        `has ${JSON.stringify(item)}: not a table id N or range N-M within 1..${0xffffffff}`,
      );
    }
    return { first, last };
  });
  return { routeTables: ranges };
}
