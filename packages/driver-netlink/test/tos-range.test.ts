/**
 * rtm_tos is one byte. A route (or flow) with a TOS it cannot hold is refused while the
 * op's requests are built, naming the field and value; written, it would have been cut
 * to its low 8 bits (0x110 as 0x10) and acted on another key.
 */
import type { IpAddr, KernelRoute, Op, Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { Writer } from "../src/codec/bytes.ts";
import type { NetlinkConnection } from "../src/connection.ts";
import { newRouteBody } from "../src/domain/route-writer.ts";
import { TosOutOfRangeError } from "../src/domain/routes.ts";
import { lookupFlow } from "../src/lookup.ts";
import { opRequests, refusedBeforeSending } from "../src/ops.ts";

const names = {
  indexOf: (dev: string) => (dev === "eth0" ? 2 : undefined),
  nameOf: (index: number) => (index === 2 ? "eth0" : `if${index}`),
};

const route = (tos?: number): KernelRoute => ({
  family: 4,
  table: 254,
  dst: "198.18.0.0/24" as Prefix,
  metric: 0,
  ...(tos === undefined ? {} : { tos }),
  protocol: 201,
  scope: 0,
  target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.2" as IpAddr, dev: "eth0", weight: 1 }] },
});

/** The op's refusal while its requests are built, or "built" when they were. */
function buildOutcome(op: Op): unknown {
  try {
    opRequests(op, names);
    return "built";
  } catch (error) {
    return refusedBeforeSending(error) ?? error;
  }
}

const refusal = (tos: number) => ({
  ok: false,
  errno: 22,
  code: "EINVAL",
  message: `tos ${tos} is out of range: rtm_tos is one byte (0 to 255)`,
});

describe("a TOS rtm_tos cannot hold", () => {
  it.each([0x110, 256, -1, 16.5, Number.NaN])("refuses %s in an add, a replace and a delete", (tos) => {
    expect(buildOutcome({ object: "route", action: "add", to: route(tos) })).toEqual(refusal(tos));
    // A move to it is refused whole: its delete of the old route is never sent.
    expect(buildOutcome({ object: "route", action: "replace", from: route(), to: route(tos) })).toEqual(
      refusal(tos),
    );
    expect(buildOutcome({ object: "route", action: "delete", from: route(tos) })).toEqual(refusal(tos));
  });

  it("builds every TOS a byte holds, the ECN bits left for the kernel to refuse", () => {
    for (const tos of [0, 0x10, 0xff]) {
      expect(buildOutcome({ object: "route", action: "add", to: route(tos) })).toBe("built");
    }
  });

  it("writes the TOS it is given into rtm_tos", () => {
    const w = new Writer(64);
    newRouteBody(route(0xb8), names)(w);
    expect(w.finish()[3]).toBe(0xb8);
  });

  it("names the value in the error a caller of the encoder sees", () => {
    expect(() => newRouteBody(route(0x110), names)).toThrow(TosOutOfRangeError);
    expect(() => newRouteBody(route(0x110), names)).toThrow("tos 272 is out of range");
  });

  it("refuses it in a lookup's flow without asking the kernel", async () => {
    const unused = {
      request: () => {
        throw new Error("the lookup reached the kernel");
      },
    } as unknown as NetlinkConnection;
    expect(await lookupFlow(unused, names, { dst: "198.18.0.1" as IpAddr, tos: 0x110 })).toEqual(
      refusal(0x110),
    );
  });
});
