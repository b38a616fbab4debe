import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Prefix, parsePrefix, prefixContains } from "../src/ip.ts";
import { BUILTIN_PROTECTED, protectedReason } from "../src/protected.ts";

const p = (text: string): Prefix => {
  const parsed = parsePrefix(text);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
};

describe("protectedReason", () => {
  it.each([
    ["127.0.0.1/32", "127.0.0.1/32 lies within 127.0.0.0/8 (loopback), which is never routed"],
    ["127.0.0.0/8", "127.0.0.0/8 lies within 127.0.0.0/8 (loopback), which is never routed"],
    ["::1/128", "::1/128 lies within ::1/128 (loopback), which is never routed"],
    [
      "169.254.169.254/32",
      "169.254.169.254/32 lies within 169.254.0.0/16 (link-local), which is never routed",
    ],
    ["fe80::/64", "fe80::/64 lies within fe80::/10 (link-local), which is never routed"],
    ["239.1.0.0/16", "239.1.0.0/16 lies within 224.0.0.0/4 (multicast), which is never routed"],
    ["ff02::1/128", "ff02::1/128 lies within ff00::/8 (multicast), which is never routed"],
    ["0.0.0.0/32", "0.0.0.0/32 lies within 0.0.0.0/8 ('this network'), which is never routed"],
    [
      "255.255.255.255/32",
      "255.255.255.255/32 lies within 255.255.255.255/32 (limited broadcast), which is never routed",
    ],
  ])("refuses %s", (prefix, reason) => {
    expect(protectedReason(p(prefix), [])).toBe(reason);
  });

  it.each([
    "0.0.0.0/0",
    "::/0",
    "0.0.0.0/5",
    "0.0.0.0/7",
    "96.0.0.0/3",
    "fe80::/9",
    "10.0.0.0/8",
    "128.0.0.0/1",
    "8000::/1",
  ])("allows %s (ordinary, or broader than a protected range)", (prefix) => {
    expect(protectedReason(p(prefix), [])).toBeUndefined();
  });

  it("refuses what lies within a configured prefix, and only that", () => {
    const configured = [p("10.244.0.0/16"), p("fd10::/64")];
    expect(protectedReason(p("10.244.3.0/24"), configured)).toBe(
      "10.244.3.0/24 lies within the configured protected prefix 10.244.0.0/16",
    );
    expect(protectedReason(p("fd10::5/128"), configured)).toContain("fd10::/64");
    expect(protectedReason(p("10.0.0.0/8"), configured)).toBeUndefined();
    expect(protectedReason(p("10.245.0.0/16"), configured)).toBeUndefined();
  });

  it("refuses exactly the prefixes inside some protected range (property)", () => {
    const prefix = fc
      .oneof(
        fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 32 })),
        fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 128 })),
      )
      .map(([address, length]) => p(`${address}/${length}`));
    fc.assert(
      fc.property(prefix, fc.array(prefix, { maxLength: 2 }), (candidate, configured) => {
        const inside = [...BUILTIN_PROTECTED.map((r) => r.prefix), ...configured].some((r) =>
          prefixContains(r, candidate),
        );
        expect(protectedReason(candidate, configured) !== undefined).toBe(inside);
      }),
    );
  });
});
