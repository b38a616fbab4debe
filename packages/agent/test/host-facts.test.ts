import type { IpAddr, KernelRoute, KernelSnapshot, Prefix } from "@kroute/core";
import { createFakeKernel } from "@kroute/driver-fake";
import { describe, expect, it } from "vitest";
import { hostObserved, kernelHostFacts, nodeAddresses, originalDefaultGateways } from "../src/host-facts.ts";

const ip = (s: string) => s as IpAddr;
const prefix = (s: string) => s as Prefix;

function route(
  dst: string,
  metric: number,
  protocol: number,
  gateways: [string, string][],
  family: 4 | 6 = 4,
): KernelRoute {
  return {
    family,
    table: 254,
    dst: prefix(dst),
    metric,
    protocol,
    scope: 0,
    target: { kind: "gateways", nexthops: gateways.map(([g, dev]) => ({ gateway: ip(g), dev, weight: 1 })) },
  };
}

function snapshot(routes: KernelRoute[], extra: Partial<KernelSnapshot> = {}): KernelSnapshot {
  return { routes, nexthops: [], rules: [], links: [], addresses: [], complete: true, ...extra };
}

/** When the tests' snapshots were read. */
const READ_AT = Date.parse("2026-01-01T00:00:00.000Z");

/** An IPv6 default route learned from a router advertisement (proto ra), `expiresInMs` left when read. */
function raDefault(via: string, expiresInMs: number): KernelRoute {
  return { ...route("::/0", 1024, 9, [[via, "eth0"]], 6), expiresInMs };
}

describe("originalDefaultGateways", () => {
  it("takes the foreign default with the lowest metric, never kroute's own override", () => {
    const facts = originalDefaultGateways(
      snapshot([
        route("0.0.0.0/0", 100, 4, [["10.0.0.1", "eth0"]]),
        route("0.0.0.0/0", 600, 16, [["192.168.1.1", "wlan0"]]),
        route("0.0.0.0/0", 50, 201, [["10.114.0.3", "eth1"]]), // kroute's override
        route("10.0.0.0/8", 0, 4, [["10.0.0.254", "eth0"]]),
      ]),
      [201],
      READ_AT,
    );
    expect(facts).toEqual([{ via: "10.0.0.1", dev: "eth0", metric: 100 }]);
  });

  it("lists every gateway of a multipath default, both families, omitting metric 0", () => {
    const facts = originalDefaultGateways(
      snapshot([
        route("0.0.0.0/0", 0, 3, [
          ["10.0.0.1", "eth0"],
          ["10.0.0.2", "eth0"],
        ]),
        route("::/0", 1024, 9, [["fe80::1", "eth0"]], 6),
      ]),
      [201],
      READ_AT,
    );
    expect(facts).toEqual([
      { via: "10.0.0.1", dev: "eth0" },
      { via: "10.0.0.2", dev: "eth0" },
      { via: "fe80::1", dev: "eth0", metric: 1024 },
    ]);
  });

  it("marks an IPv4 default route via an IPv6 next hop (RFC 5549) as IPv4's, beside the IPv6 one", () => {
    const facts = originalDefaultGateways(
      snapshot([
        route("0.0.0.0/0", 20, 186, [["fe80::1", "eth0"]]),
        route("::/0", 1024, 9, [["fe80::2", "eth0"]], 6),
      ]),
      [201],
      READ_AT,
    );
    expect(facts).toEqual([
      { via: "fe80::1", dev: "eth0", metric: 20, family: 4 },
      { via: "fe80::2", dev: "eth0", metric: 1024 },
    ]);
  });

  it("follows a default route through a nexthop object and its group", () => {
    const facts = originalDefaultGateways(
      snapshot([{ ...route("0.0.0.0/0", 10, 4, []), target: { kind: "nexthop-object", id: 7 } }], {
        nexthops: [
          {
            kind: "group",
            id: 7,
            protocol: 4,
            groupType: "mpath",
            members: [
              { id: 1, weight: 1 },
              { id: 2, weight: 1 },
            ],
          },
          { kind: "gateway", id: 1, family: 4, protocol: 4, gateway: ip("10.0.0.1"), dev: "eth0" },
          { kind: "gateway", id: 2, family: 4, protocol: 4, gateway: ip("10.0.0.2"), dev: "eth1" },
        ],
      }),
      [201],
      READ_AT,
    );
    expect(facts).toEqual([
      { via: "10.0.0.1", dev: "eth0", metric: 10 },
      { via: "10.0.0.2", dev: "eth1", metric: 10 },
    ]);
  });

  it("tells when a default route learned from a router advertisement expires, rounded up to the second", () => {
    const facts = originalDefaultGateways(snapshot([raDefault("fe80::1", 1_799_990)]), [201], READ_AT + 250);
    expect(facts).toEqual([
      { via: "fe80::1", dev: "eth0", metric: 1024, expiresAt: "2026-01-01T00:30:01.000Z" },
    ]);
  });

  it("never takes a default route past its expiry for the original: Linux lists it but no longer uses it", () => {
    const stale = raDefault("fe80::1", -5000);
    expect(originalDefaultGateways(snapshot([stale]), [201], READ_AT)).toEqual([]);
    // The next one the kernel uses takes its place, here a static route at a higher metric.
    const fallback = route("::/0", 2048, 4, [["fe80::2", "eth1"]], 6);
    expect(originalDefaultGateways(snapshot([stale, fallback]), [201], READ_AT)).toEqual([
      { via: "fe80::2", dev: "eth1", metric: 2048 },
    ]);
  });

  it("passes over a default route with a TOS: it serves only that TOS's flows, not the node's own", () => {
    const marked: KernelRoute = { ...route("0.0.0.0/0", 0, 4, [["10.0.0.9", "eth1"]]), tos: 0x10 };
    const plain = route("0.0.0.0/0", 100, 4, [["10.0.0.1", "eth0"]]);
    expect(originalDefaultGateways(snapshot([marked, plain]), [201], READ_AT)).toEqual([
      { via: "10.0.0.1", dev: "eth0", metric: 100 },
    ]);
  });

  it("ignores device-only defaults (nothing to route protected addresses via)", () => {
    const devOnly: KernelRoute = { ...route("0.0.0.0/0", 0, 4, []), target: { kind: "device", dev: "ppp0" } };
    expect(originalDefaultGateways(snapshot([devOnly]), [201], READ_AT)).toEqual([]);
  });
});

describe("nodeAddresses", () => {
  it("keeps global addresses with prefix lengths, drops loopback and link-local", () => {
    expect(
      nodeAddresses([
        { ip: ip("127.0.0.1"), prefixLength: 8, dev: "lo" },
        { ip: ip("::1"), prefixLength: 128, dev: "lo" },
        { ip: ip("fe80::1"), prefixLength: 64, dev: "eth0" },
        { ip: ip("10.0.0.5"), prefixLength: 20, dev: "eth0" },
        { ip: ip("2001:db8::5"), prefixLength: 64, dev: "eth0" },
        { ip: ip("10.114.0.9"), prefixLength: 20, dev: "eth1" },
      ]),
    ).toEqual([
      { ip: "10.0.0.5", dev: "eth0", prefixLength: 20 },
      { ip: "10.114.0.9", dev: "eth1", prefixLength: 20 },
      { ip: "2001:db8::5", dev: "eth0", prefixLength: 64 },
    ]);
  });
});

describe("kernelHostFacts and hostObserved", () => {
  it("reads a host's original default and addresses from a dataplane and builds host/observed", async () => {
    const kernel = createFakeKernel({
      links: [{ name: "eth0" }],
      addresses: [{ dev: "eth0", ip: ip("10.0.0.5"), prefixLength: 24 }],
      routes: [route("0.0.0.0/0", 0, 3, [["10.0.0.1", "eth0"]])],
    });
    const kernelFacts = await kernelHostFacts(kernel, [201]);
    const body = hostObserved(
      { nodeName: "n1", metadataAddress: ip("169.254.169.254"), keepOriginal: [prefix("203.0.113.0/24")] },
      kernelFacts,
      [ip("10.0.0.53")],
      [ip("10.0.0.12"), ip("10.0.0.11"), ip("10.0.0.12")],
    );
    expect(body).toEqual({
      type: "host/observed",
      node: "n1",
      defaultGateways: [{ via: "10.0.0.1", dev: "eth0" }],
      addresses: [{ ip: "10.0.0.5", dev: "eth0", prefixLength: 24 }],
      dns: ["10.0.0.53"],
      apiServers: ["10.0.0.11", "10.0.0.12"],
      protect: ["169.254.169.254/32", "203.0.113.0/24"],
    });
  });
});
