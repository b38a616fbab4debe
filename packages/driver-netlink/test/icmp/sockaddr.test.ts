import type { IpAddr } from "@kroute/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSockaddr, encodeSockaddr, encodeSockaddrLl } from "../../src/icmp/sockaddr.ts";

describe("ICMP socket addresses", () => {
  it("round-trips IPv4 and IPv6 addresses through sockaddr_in / sockaddr_in6", () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (text) => {
        const encoded = encodeSockaddr(text as IpAddr);
        expect(encoded.length).toBe(text.includes(":") ? 28 : 16);
        const decoded = decodeSockaddr(encoded, encoded.length);
        expect(decoded?.family).toBe(text.includes(":") ? 6 : 4);
        // Canonical form: re-encoding the decoded address gives the same bytes.
        expect(encodeSockaddr(decoded!.address)).toEqual(encoded);
      }),
    );
  });

  it("lays out sockaddr_in as Linux does: family little-endian, address in network order", () => {
    expect([...encodeSockaddr("192.0.2.11" as IpAddr).subarray(0, 8)]).toEqual([2, 0, 0, 0, 192, 0, 2, 11]);
  });

  it("carries a link-local address's device index as sin6_scope_id, host order, both ways", () => {
    const encoded = encodeSockaddr("fe80::1" as IpAddr, 7);
    expect([...encoded.subarray(24, 28)]).toEqual([7, 0, 0, 0]);
    expect(decodeSockaddr(encoded, encoded.length)).toEqual({ family: 6, address: "fe80::1", scopeId: 7 });
  });

  it("refuses what is not an address, and ignores foreign or short sockaddrs", () => {
    expect(() => encodeSockaddr("gw1" as IpAddr)).toThrow('icmp: not an IP address: "gw1"');
    expect(decodeSockaddr(new Uint8Array(28), 28)).toBeUndefined();
    expect(decodeSockaddr(encodeSockaddr("192.0.2.1" as IpAddr), 4)).toBeUndefined();
  });

  it("lays out sockaddr_ll as Linux does: family and index host order, protocol network order", () => {
    const mac = Uint8Array.from([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
    expect([...encodeSockaddrLl(7, mac)]).toEqual([
      17, 0, 0x86, 0xdd, 7, 0, 0, 0, 0, 0, 0, 6, 0x02, 0x00, 0x5e, 0x10, 0x00, 0x01, 0, 0,
    ]);
    expect(() => encodeSockaddrLl(7, new Uint8Array(33))).toThrow(
      "icmp: link-layer address of 33 bytes, at most 32",
    );
  });

  it("carries an IPoIB neighbour's 20-byte address past sll_addr's 8, as packet_snd reads it", () => {
    const ipoib = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
    const encoded = encodeSockaddrLl(3, ipoib);
    // Linux takes the address's length from sll_halen and checks the name holds it.
    expect(encoded.length).toBe(12 + 20);
    expect(encoded[11]).toBe(20);
    expect([...encoded.subarray(12)]).toEqual([...ipoib]);
  });
});
