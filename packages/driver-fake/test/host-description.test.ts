import type { IpAddr, KernelRoute, Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { createFakeKernel } from "../src/index.ts";

const defaultRoute: KernelRoute = {
  family: 4,
  table: 254,
  dst: "0.0.0.0/0" as Prefix,
  metric: 100,
  protocol: 16, // dhcp
  scope: 0,
  prefsrc: "10.0.0.5" as IpAddr,
  target: { kind: "gateways", nexthops: [{ gateway: "10.0.0.1" as IpAddr, dev: "eth0", weight: 1 }] },
};

describe("a fake host starts like a real one", () => {
  it("has lo, its links, addresses, connected routes and its default route", () => {
    const kernel = createFakeKernel({
      links: [{ name: "eth0" }, { name: "eth1", carrier: false }],
      addresses: [
        { dev: "eth0", ip: "10.0.0.5" as IpAddr, prefixLength: 24 },
        { dev: "eth0", ip: "2001:db8::5" as IpAddr, prefixLength: 64 },
      ],
      routes: [defaultRoute],
    });
    const snapshot = kernel.listSync();
    expect(snapshot.links).toEqual([
      { index: 1, name: "lo", up: true, carrier: true },
      { index: 2, name: "eth0", up: true, carrier: true },
      { index: 3, name: "eth1", up: true, carrier: false },
    ]);
    expect(snapshot.routes.map((route) => `${route.dst} ${route.protocol} ${route.metric}`)).toEqual([
      "0.0.0.0/0 16 100",
      "10.0.0.0/24 2 0",
      "2001:db8::/64 2 256",
      "fe80::/64 2 256",
    ]);
    // eth0's link-local address (link-local.ts); eth1, without carrier, has none yet.
    expect(
      snapshot.addresses.map((address) => `${address.ip}/${address.prefixLength} ${address.dev}`),
    ).toEqual(["fe80::ff:fe00:2/64 eth0", "10.0.0.5/24 eth0", "2001:db8::5/64 eth0"]);
    expect(kernel.lookupSync({ dst: "8.8.8.8" as IpAddr })).toEqual({
      ok: true,
      table: 254,
      dst: "0.0.0.0/0",
      gateway: "10.0.0.1",
      dev: "eth0",
    });
  });

  it("refuses a description whose default route is not on-link, naming it", () => {
    expect(() => createFakeKernel({ links: [{ name: "eth0" }], routes: [defaultRoute] })).toThrow(
      /route 0\.0\.0\.0\/0 refused: Nexthop has invalid gateway/,
    );
  });

  it("host control misuse is an error naming the link", () => {
    const kernel = createFakeKernel({ links: [{ name: "eth0" }] });
    expect(() => kernel.setCarrier("eth9", false)).toThrow(/no such link: "eth9"/);
    expect(() => kernel.addLink("eth0")).toThrow(/link exists: "eth0"/);
    expect(() => kernel.addAddress("eth0", "10.0.0.300" as IpAddr, 24)).toThrow(/invalid address/);
  });
});
