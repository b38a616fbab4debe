/**
 * What the conformance suite (packages/testkit secondary-addresses.ts) cannot set up
 * on both kernels: the host's default, the description's setting, and a connected
 * route deleted by hand before a secondary comes.
 */
import type { IpAddr, KernelRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { createFakeKernel, type HostDescription } from "../src/index.ts";

const primary = { dev: "eth0", ip: "10.0.0.5" as IpAddr, prefixLength: 24 };
const host: HostDescription = {
  links: [{ name: "eth0" }],
  addresses: [primary, { dev: "eth0", ip: "10.0.0.6" as IpAddr, prefixLength: 24 }],
};

function v4Addresses(kernel: ReturnType<typeof createFakeKernel>): string[] {
  return kernel
    .listSync({ families: [4] })
    .addresses.filter((address) => address.dev === "eth0")
    .map((address) => address.ip);
}

function connectedSources(kernel: ReturnType<typeof createFakeKernel>): string[] {
  return kernel
    .listSync({ families: [4], protocols: [2] })
    .routes.map((route) => `${route.dst} src ${route.prefsrc}`);
}

describe("IPv4 secondaries: the promote_secondaries setting", () => {
  it("promotes by default, as a host booted by systemd does", () => {
    const kernel = createFakeKernel(host);
    kernel.removeAddress("eth0", "10.0.0.5" as IpAddr, 24);
    expect(v4Addresses(kernel)).toEqual(["10.0.0.6"]);
    expect(connectedSources(kernel)).toEqual(["10.0.0.0/24 src 10.0.0.6"]);
  });

  it("removes the secondaries with their primary when the description turns it off, or later", () => {
    const off = createFakeKernel({ ...host, promoteSecondaries: false });
    off.removeAddress("eth0", "10.0.0.5" as IpAddr, 24);
    expect(v4Addresses(off)).toEqual([]);

    const turnedOff = createFakeKernel(host);
    turnedOff.setPromoteSecondaries(false);
    turnedOff.removeAddress("eth0", "10.0.0.5" as IpAddr, 24);
    expect(v4Addresses(turnedOff)).toEqual([]);
    expect(connectedSources(turnedOff)).toEqual([]);
  });

  it("refuses a setting that is not true or false, naming it and the value", () => {
    const loose = { ...host, promoteSecondaries: 1 } as unknown as HostDescription;
    expect(() => createFakeKernel(loose)).toThrow("promoteSecondaries must be true or false: 1");
    const kernel = createFakeKernel(host);
    expect(() => kernel.setPromoteSecondaries("0" as unknown as boolean)).toThrow(
      'promoteSecondaries must be true or false: "0"',
    );
  });
});

describe("IPv4 secondaries: the connected route", () => {
  it("a secondary makes none even where its primary's was deleted (Linux 6.18, checked with ip)", () => {
    const kernel = createFakeKernel({ links: [{ name: "eth0" }], addresses: [primary] });
    const connected = kernel.listSync({ families: [4], protocols: [2] }).routes[0] as KernelRoute;
    expect(kernel.applySync([{ object: "route", action: "delete", from: connected }])).toEqual([
      { ok: true },
    ]);
    kernel.addAddress("eth0", "10.0.0.6" as IpAddr, 24);
    expect(connectedSources(kernel)).toEqual([]);
    // Down and up again, the primary makes it again; the secondary still none.
    kernel.setAdminUp("eth0", false);
    kernel.setAdminUp("eth0", true);
    expect(connectedSources(kernel)).toEqual(["10.0.0.0/24 src 10.0.0.5"]);
  });
});
