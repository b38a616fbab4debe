import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeMessages,
  encodeMessages,
  errorFlags,
  type Message,
  type MessageBody,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  RTM_DELNEXTHOP,
  RTM_DELROUTE,
  RTM_GETLINK,
  RTM_NEWADDR,
  RTM_NEWNEXTHOP,
  RTM_NEWROUTE,
  RTM_NEWRULE,
} from "../src/codec/index.ts";

const u8 = fc.integer({ min: 0, max: 255 });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const address = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const name = fc.stringMatching(/^[a-z0-9._-]{1,15}$/);

const rtnexthop = fc.record(
  { flags: u8, hops: u8, ifindex: i32, gateway: address, via: address },
  { requiredKeys: ["flags", "hops", "ifindex"] },
);

const route = fc.record(
  {
    family: u8,
    dstLen: u8,
    srcLen: u8,
    tos: u8,
    table: u8,
    protocol: u8,
    scope: u8,
    type: u8,
    flags: u32,
    dst: address,
    src: address,
    iif: u32,
    oif: u32,
    gateway: address,
    via: address,
    priority: u32,
    prefsrc: address,
    multipath: fc.array(rtnexthop, { maxLength: 4 }),
    tableId: u32,
    ipProto: u8,
    sport: u16,
    dport: u16,
    nhId: u32,
  },
  { requiredKeys: ["family", "dstLen", "srcLen", "tos", "table", "protocol", "scope", "type", "flags"] },
);

const nexthop = fc.record(
  {
    family: u8,
    scope: u8,
    protocol: u8,
    flags: u32,
    id: u32,
    group: fc.array(fc.record({ id: u32, weight: fc.integer({ min: 1, max: 256 }) }), { maxLength: 5 }),
    groupType: u16,
    blackhole: fc.constant(true as const),
    oif: u32,
    gateway: address,
    fdb: fc.constant(true as const),
    groups: fc.constant(true as const),
    resGroup: fc.record(
      { buckets: u16, idleTimer: u32, unbalancedTimer: u32, unbalancedTime: u32 },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ["family", "scope", "protocol", "flags"] },
);

const rule = fc.record(
  {
    family: u8,
    dstLen: u8,
    srcLen: u8,
    tos: u8,
    table: u8,
    action: u8,
    flags: u32,
    dst: address,
    src: address,
    priority: u32,
    tableId: u32,
    protocol: u8,
    iifname: name,
    oifname: name,
    fwmark: u32,
  },
  { requiredKeys: ["family", "dstLen", "srcLen", "tos", "table", "action", "flags"] },
);

const link = fc.record(
  { family: u8, type: u16, index: i32, flags: u32, change: u32, name, mtu: u32, master: u32 },
  { requiredKeys: ["family", "type", "index", "flags", "change"] },
);

const addressMessage = fc.record(
  { family: u8, prefixLen: u8, flags: u8, scope: u8, index: u32, address, local: address, label: name },
  { requiredKeys: ["family", "prefixLen", "flags", "scope", "index"] },
);

const errorBody = fc.record(
  {
    error: fc.integer({ min: -4095, max: 0 }),
    request: fc.record({ length: fc.constant(16), type: u16, flags: u16, seq: u32, pid: u32 }),
    extackMessage: fc.stringMatching(/^[ -~]{0,80}$/),
    extackOffset: u32,
  },
  { requiredKeys: ["error", "request"] },
);

const message: fc.Arbitrary<Message> = fc
  .tuple(
    fc.record({ flags: u16, seq: u32, pid: u32 }),
    fc.oneof(
      fc.tuple(
        fc.constantFrom(RTM_NEWROUTE, RTM_DELROUTE),
        route.map((r): MessageBody => ({ kind: "route", route: r })),
      ),
      fc.tuple(
        fc.constantFrom(RTM_NEWNEXTHOP, RTM_DELNEXTHOP),
        nexthop.map((n): MessageBody => ({ kind: "nexthop", nexthop: n })),
      ),
      fc.tuple(
        fc.constant(RTM_NEWRULE),
        rule.map((r): MessageBody => ({ kind: "rule", rule: r })),
      ),
      fc.tuple(
        fc.constant(RTM_GETLINK),
        link.map((l): MessageBody => ({ kind: "link", link: l })),
      ),
      fc.tuple(
        fc.constant(RTM_NEWADDR),
        addressMessage.map((a): MessageBody => ({ kind: "address", address: a })),
      ),
      fc.tuple(
        fc.constant(NLMSG_ERROR),
        errorBody.map((e): MessageBody => ({ kind: "error", error: e })),
      ),
      fc.tuple(
        fc.constant(NLMSG_DONE),
        i32.map((e): MessageBody => ({ kind: "done", error: e })),
      ),
      fc.tuple(
        fc.constant(NLMSG_NOOP),
        fc.uint8Array({ maxLength: 32 }).map((p): MessageBody => ({ kind: "other", payload: p })),
      ),
    ),
  )
  .map(([h, [type, body]]) => {
    // The kernel sets CAPPED/ACK_TLVS on errors itself; the encoder does the same.
    const flags =
      body.kind === "error" ? (h.flags & ~(NLM_F_CAPPED | NLM_F_ACK_TLVS)) | errorFlags(body.error) : h.flags;
    return { type, flags, seq: h.seq, pid: h.pid, body };
  });

describe("codec round trip", () => {
  it("decode(encode(messages)) gives the messages back", () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 6 }), (messages) => {
        const decoded = decodeMessages(encodeMessages(messages));
        expect(decoded.ok).toBe(true);
        if (decoded.ok) expect(decoded.value).toEqual(messages);
      }),
      { numRuns: 300 },
    );
  });

  it("reads an extended ACK the way Linux writes it, with the request echoed uncapped", () => {
    // A real kernel reply (NETLINK_EXT_ACK without CAP_ACK): error -22, request of 28 bytes, "Invalid prefix".
    const w = new Uint8Array(16 + 4 + 28 + 20);
    const v = new DataView(w.buffer);
    v.setUint32(0, w.length, true);
    v.setUint16(4, NLMSG_ERROR, true);
    v.setUint16(6, NLM_F_ACK_TLVS, true);
    v.setUint32(8, 7, true);
    v.setInt32(16, -22, true);
    v.setUint32(20, 28, true); // echoed nlmsghdr length: 16 + 12 bytes payload
    v.setUint16(24, RTM_NEWROUTE, true);
    v.setUint32(28, 7, true);
    v.setUint16(48, 19, true); // NLMSGERR_ATTR_MSG, len 4 + 15
    v.setUint16(50, 1, true);
    w.set(new TextEncoder().encode("Invalid prefix\0"), 52);
    const decoded = decodeMessages(w);
    expect(decoded).toMatchObject({
      ok: true,
      value: [{ seq: 7, body: { kind: "error", error: { error: -22, extackMessage: "Invalid prefix" } } }],
    });
  });
});

describe("codec fuzz", () => {
  function decodeNeverThrows(bytes: Uint8Array): void {
    const decoded = decodeMessages(bytes);
    if (!decoded.ok) {
      expect(decoded.error.kind).toBe("decode-error");
      expect(typeof decoded.error.message).toBe("string");
    }
  }

  it("random bytes give messages or a typed error, never a throw", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), decodeNeverThrows), { numRuns: 2000 });
  });

  it("mutated valid messages give messages or a typed error, never a throw", () => {
    const mutation = fc.record({
      at: fc.nat(),
      value: u8,
      cut: fc.nat(),
      kind: fc.constantFrom("flip", "truncate", "both"),
    });
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { maxLength: 8 }),
        (ms, muts) => {
          let bytes = encodeMessages(ms);
          for (const m of muts) {
            if (bytes.length === 0) break;
            if (m.kind !== "truncate") bytes[m.at % bytes.length] = m.value;
            if (m.kind !== "flip") bytes = bytes.subarray(0, m.cut % (bytes.length + 1));
          }
          decodeNeverThrows(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("rejects an attribute whose length overruns its message, naming it", () => {
    const bytes = encodeMessages([
      {
        type: RTM_NEWROUTE,
        flags: 0,
        seq: 1,
        pid: 0,
        body: {
          kind: "route",
          route: {
            family: 2,
            dstLen: 32,
            srcLen: 0,
            tos: 0,
            table: 254,
            protocol: 4,
            scope: 0,
            type: 1,
            flags: 0,
            priority: 5,
          },
        },
      },
    ]);
    new DataView(bytes.buffer).setUint16(28, 200, true); // RTA_PRIORITY length -> 200
    const decoded = decodeMessages(bytes);
    expect(decoded).toMatchObject({ ok: false, error: { kind: "decode-error", offset: 28 } });
    if (!decoded.ok) expect(decoded.error.message).toMatch(/attribute type 6 has length 200/);
  });
});

/** An RTM_NEWROUTE of an IPv6 default route followed by an RTA_CACHEINFO of `cacheinfo` bytes. */
function routeWithCacheinfo(cacheinfo: Uint8Array): Uint8Array {
  const head = encodeMessages([
    {
      type: RTM_NEWROUTE,
      flags: 0,
      seq: 1,
      pid: 0,
      body: {
        kind: "route",
        route: {
          family: 10,
          dstLen: 0,
          srcLen: 0,
          tos: 0,
          table: 254,
          protocol: 9,
          scope: 0,
          type: 1,
          flags: 0,
        },
      },
    },
  ]);
  const attrLength = 4 + cacheinfo.byteLength;
  const bytes = new Uint8Array(head.byteLength + ((attrLength + 3) & ~3));
  bytes.set(head);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, bytes.byteLength, true); // nlmsg_len
  view.setUint16(head.byteLength, attrLength, true);
  view.setUint16(head.byteLength + 2, 12, true); // RTA_CACHEINFO
  bytes.set(cacheinfo, head.byteLength + 4);
  return bytes;
}

function cacheinfoWithExpires(expires: number): Uint8Array {
  const ci = new Uint8Array(32); // struct rta_cacheinfo
  new DataView(ci.buffer).setInt32(8, expires, true);
  return ci;
}

describe("RTA_CACHEINFO", () => {
  it("reads rta_expires as signed: a route that expired 5 s ago is -500", () => {
    const decoded = decodeMessages(routeWithCacheinfo(cacheinfoWithExpires(-500)));
    expect(decoded).toMatchObject({ ok: true, value: [{ body: { route: { expires: -500 } } }] });
  });

  it("reads the time left of a route that has not expired yet", () => {
    const decoded = decodeMessages(routeWithCacheinfo(cacheinfoWithExpires(180_000)));
    expect(decoded).toMatchObject({ ok: true, value: [{ body: { route: { expires: 180_000 } } }] });
  });

  it("leaves expires out where the kernel reports none (zero)", () => {
    const decoded = decodeMessages(routeWithCacheinfo(cacheinfoWithExpires(0)));
    expect(decoded.ok).toBe(true);
    if (decoded.ok) expect(decoded.value[0]?.body).not.toHaveProperty("route.expires");
  });

  it("refuses a cache info too short to hold rta_expires, naming it", () => {
    const decoded = decodeMessages(routeWithCacheinfo(new Uint8Array(8)));
    expect(decoded).toMatchObject({ ok: false, error: { kind: "decode-error" } });
    if (!decoded.ok)
      expect(decoded.error.message).toMatch(/RTA_CACHEINFO must hold rta_expires \(12 bytes\), got 8 bytes/);
  });
});
