/**
 * The route writer (src/domain/route-writer.ts) writes the bodies of route requests
 * straight into the send buffer. It must write exactly what the reference path writes:
 * routeToMessage or routeKeyMessage, then encodeRoute.
 */
import type { IpAddr, KernelRoute, Prefix } from "@kroute/core";
import { kernelRoute } from "@kroute/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Writer } from "../src/codec/bytes.ts";
import { encodeRoute } from "../src/codec/route.ts";
import { newRouteBody, routeKeyBody } from "../src/domain/route-writer.ts";
import { routeKeyMessage, routeToMessage, UnknownDeviceError } from "../src/domain/routes.ts";

const INDEX: Readonly<Record<string, number>> = { eth0: 2, eth1: 3, wg0: 7, "veth-gw1": 12 };
const names = {
  indexOf: (dev: string) => INDEX[dev],
  nameOf: (index: number) => Object.keys(INDEX).find((k) => INDEX[k] === index) ?? `if${index}`,
};

function written(write: (w: Writer) => void): number[] {
  const w = new Writer(64);
  write(w);
  return [...w.finish()];
}

const reference = (route: KernelRoute) => written((w) => encodeRoute(w, routeToMessage(route, names)));
const referenceKey = (route: KernelRoute) => written((w) => encodeRoute(w, routeKeyMessage(route)));

describe("route writer", () => {
  it("writes the reference encoder's bytes for any route, to create it and to delete it", () => {
    fc.assert(
      fc.property(kernelRoute(), (route) => {
        expect(written(newRouteBody(route, names))).toEqual(reference(route));
        expect(written(routeKeyBody(route))).toEqual(referenceKey(route));
      }),
      { numRuns: 2000 },
    );
  });

  const base = {
    family: 4,
    table: 254,
    dst: "100.64.0.1/32" as Prefix,
    metric: 0,
    protocol: 201,
    scope: 0,
  } as const;
  it.each<[string, KernelRoute]>([
    [
      "a gateway",
      {
        ...base,
        target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.2" as IpAddr, dev: "eth0", weight: 1 }] },
      },
    ],
    [
      "a nexthop object, in a table above 255",
      { ...base, table: 1000, target: { kind: "nexthop-object", id: 7 } },
    ],
    [
      "a device, with a source address",
      { ...base, prefsrc: "10.0.0.5" as IpAddr, target: { kind: "device", dev: "wg0" } },
    ],
    [
      "a blackhole default route",
      { ...base, dst: "0.0.0.0/0" as Prefix, target: { kind: "special", type: "blackhole" } },
    ],
    [
      "an IPv6 next hop (RTA_VIA)",
      {
        ...base,
        target: { kind: "gateways", nexthops: [{ gateway: "fe80::1" as IpAddr, dev: "eth1", weight: 1 }] },
      },
    ],
    [
      "a weighted gateway (RTA_MULTIPATH)",
      {
        ...base,
        target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.2" as IpAddr, dev: "eth0", weight: 3 }] },
      },
    ],
    [
      "an IPv6 route",
      { ...base, family: 6, dst: "2001:db8::/64" as Prefix, target: { kind: "device", dev: "eth0" } },
    ],
  ])("writes the reference bytes for %s", (_, route) => {
    expect(written(newRouteBody(route, names))).toEqual(reference(route));
    expect(written(routeKeyBody(route))).toEqual(referenceKey(route));
  });

  it("names an unknown device when the request is built, not when it is written", () => {
    const route: KernelRoute = { ...base, target: { kind: "device", dev: "nope0" } };
    expect(() => newRouteBody(route, names)).toThrow(UnknownDeviceError);
  });
});
