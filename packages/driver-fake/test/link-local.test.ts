import type { IpAddr, KernelChange, Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { createFakeKernel } from "../src/index.ts";
import { linkLocalAddress } from "../src/link-local.ts";

const linkLocalRoutes = (kernel: ReturnType<typeof createFakeKernel>): string[] =>
  kernel
    .listSync({ families: [6] })
    .routes.filter((route) => route.dst === "fe80::/64")
    .map((route) => `${route.target.kind === "device" ? route.target.dev : "?"} metric ${route.metric}`);

describe("the fake's IPv6 link-local addresses", () => {
  it("are the EUI-64 of a MAC made from the ifindex", () => {
    expect(linkLocalAddress(2)).toBe("fe80::ff:fe00:2");
    expect(linkLocalAddress(0x1234567)).toBe("fe80::1ff:fe23:4567");
    expect(linkLocalAddress(0xffffffff)).toBe("fe80::ffff:feff:ffff");
    expect(() => linkLocalAddress(0)).toThrow(/invalid ifindex/);
  });

  it("every link up with carrier has one and its own fe80::/64 route; lo has none", () => {
    const kernel = createFakeKernel({ links: [{ name: "eth0" }, { name: "eth1" }] });
    expect(kernel.listSync().addresses).toEqual([
      { ip: "fe80::ff:fe00:2", prefixLength: 64, dev: "eth0" },
      { ip: "fe80::ff:fe00:3", prefixLength: 64, dev: "eth1" },
    ]);
    expect(linkLocalRoutes(kernel)).toEqual(["eth0 metric 256", "eth1 metric 256"]);
  });

  it("one link going down takes its own route only, and its up brings back the same address", () => {
    const kernel = createFakeKernel({ links: [{ name: "eth0" }, { name: "eth1" }] });
    kernel.setAdminUp("eth0", false);
    expect(linkLocalRoutes(kernel)).toEqual(["eth1 metric 256"]);
    expect(kernel.listSync().addresses.map((address) => address.dev)).toEqual(["eth1"]);
    kernel.setAdminUp("eth0", true);
    expect(linkLocalRoutes(kernel)).toEqual(["eth1 metric 256", "eth0 metric 256"]);
    expect(kernel.listSync().addresses).toContainEqual({
      ip: "fe80::ff:fe00:2",
      prefixLength: 64,
      dev: "eth0",
    });
  });

  it("a request for fe80::/64 metric 256 in main is refused (EEXIST) while a link holds it, as Linux does (checked with ip)", () => {
    const kernel = createFakeKernel({ links: [{ name: "eth0" }] });
    const [result] = kernel.applySync([
      {
        object: "route",
        action: "add",
        to: {
          family: 6,
          table: 254,
          dst: "fe80::/64" as Prefix,
          metric: 256,
          protocol: 250,
          scope: 0,
          target: { kind: "device", dev: "eth0" },
        },
      },
    ]);
    expect(result).toMatchObject({ ok: false, code: "EEXIST" });
  });

  it("a new link announces its address, then the route", () => {
    const kernel = createFakeKernel();
    const changes: KernelChange[] = [];
    kernel.watch().subscribe((change) => changes.push(change));
    kernel.addLink("eth0");
    expect(changes.map((change) => change.kind)).toEqual(["link", "address", "route"]);
    expect(changes[1]).toEqual({
      kind: "address",
      action: "new",
      address: { ip: "fe80::ff:fe00:2" as IpAddr, prefixLength: 64, dev: "eth0" },
    });
  });
});
