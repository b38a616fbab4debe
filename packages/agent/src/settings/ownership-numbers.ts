/**
 * The route protocol and reply table kroute marks its kernel objects with. Both
 * the agent and cleanup read the protocol: it is how cleanup finds what to remove.
 */
import { DEFAULT_SETTINGS } from "@kroute/core";
import type { RawFlags } from "./flags.ts";
import { fail } from "./settings-error.ts";
import { integer } from "./values.ts";

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

export function replyTable(raw: RawFlags): number {
  const table = integer(raw, "table-reply", DEFAULT_SETTINGS.replyTable, 1, 0xffffffff);
  const reserved = RESERVED_TABLES[table];
  if (reserved !== undefined) fail("table-reply", String(table), `is the kernel's "${reserved}" table`);
  return table;
}
