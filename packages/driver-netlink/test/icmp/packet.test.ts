import type { IpAddr } from "@kroute/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ipToBytes } from "../../src/address.ts";
import {
  decodeEchoReply,
  encodeEchoRequest,
  encodeIpv6Datagram,
  internetChecksum,
} from "../../src/icmp/packet.ts";

describe("ICMP echo packets", () => {
  it("computes the RFC 1071 checksum (example from RFC 1071 section 3)", () => {
    const data = Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(internetChecksum(data)).toBe(~0xddf2 & 0xffff);
  });

  it("builds an IPv4 request whose checksum verifies to zero", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        (identifier, sequence) => {
          const request = encodeEchoRequest(4, { identifier, sequence });
          expect(request[0]).toBe(8);
          expect(internetChecksum(request)).toBe(0);
        },
      ),
    );
  });

  it("recognises a reply to its own request, with or without an IPv4 header, and nothing else", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(4 as const, 6 as const),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        (family, identifier, sequence) => {
          const reply = encodeEchoRequest(family, { identifier, sequence });
          reply[0] = family === 4 ? 0 : 129;
          expect(decodeEchoReply(family, reply, false)).toEqual({ identifier, sequence });
          // A request is not a reply.
          expect(
            decodeEchoReply(family, encodeEchoRequest(family, { identifier, sequence }), false),
          ).toBeUndefined();
          if (family === 4) {
            const withHeader = new Uint8Array(24 + reply.length);
            withHeader[0] = 0x46; // IPv4, 24-byte header (with options)
            withHeader.set(reply, 24);
            expect(decodeEchoReply(4, withHeader, true)).toEqual({ identifier, sequence });
          }
        },
      ),
    );
  });

  it("ignores truncated replies and replies without the kroute marker", () => {
    const reply = encodeEchoRequest(4, { identifier: 1, sequence: 2 });
    reply[0] = 0;
    expect(decodeEchoReply(4, reply.subarray(0, 10), false)).toBeUndefined();
    const foreign = reply.slice();
    foreign[9] = 0;
    expect(decodeEchoReply(4, foreign, false)).toBeUndefined();
  });

  it("wraps an ICMPv6 request in an IPv6 header, its checksum verifying over the pseudo-header", () => {
    fc.assert(
      fc.property(fc.ipV6(), fc.ipV6(), fc.integer({ min: 0, max: 0xffff }), (from, to, sequence) => {
        const [source, destination] = [ipToBytes(from as IpAddr), ipToBytes(to as IpAddr)];
        const icmpv6 = encodeEchoRequest(6, { identifier: 7, sequence });
        const datagram = encodeIpv6Datagram(source, destination, icmpv6);
        const view = new DataView(datagram.buffer);
        expect(datagram[0]! >> 4).toBe(6);
        expect(view.getUint16(4, false)).toBe(icmpv6.length); // payload length
        expect([datagram[6], datagram[7]]).toEqual([58, 64]); // next header ICMPv6, hop limit
        expect(datagram.subarray(8, 24)).toEqual(source);
        expect(datagram.subarray(24, 40)).toEqual(destination);
        const pseudo = new Uint8Array(40 + icmpv6.length);
        pseudo.set(source, 0);
        pseudo.set(destination, 16);
        new DataView(pseudo.buffer).setUint32(32, icmpv6.length, false);
        pseudo[39] = 58;
        pseudo.set(datagram.subarray(40), 40);
        expect(internetChecksum(pseudo)).toBe(0);
        // The request itself is left as it was (the routed copy's checksum is the kernel's).
        expect(icmpv6[2]! | icmpv6[3]!).toBe(0);
      }),
    );
  });
});
