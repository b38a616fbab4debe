import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { comparePrefixes, type Prefix, parseIp, parsePrefix, prefixContains } from "../src/ip.ts";

describe("parseIp", () => {
  it.each([
    ["10.114.0.3", "10.114.0.3"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["::ffff:1.2.3.4", "::ffff:102:304"],
    ["::", "::"],
    ["fe80:0:0:0:1:2:3:4", "fe80::1:2:3:4"],
  ])("canonicalises %s to %s", (input, canonical) => {
    expect(parseIp(input)).toEqual({ ok: true, value: canonical });
  });

  it.each(["", "1.2.3", "256.1.1.1", "01.2.3.4", "1::2::3", "fe80::1%eth0", "1.2.3.4/32", "gg::1"])(
    "refuses %j",
    (input) => {
      expect(parseIp(input).ok).toBe(false);
    },
  );

  it("round-trips any IPv6 address through its canonical form", () => {
    fc.assert(
      fc.property(fc.ipV6(), (text) => {
        const first = parseIp(text);
        expect(first.ok).toBe(true);
        if (!first.ok) return;
        expect(parseIp(first.value)).toEqual({ ok: true, value: first.value });
      }),
    );
  });
});

describe("parsePrefix", () => {
  it("clears host bits with a warning naming the network", () => {
    const result = parsePrefix("1.2.3.4/5");
    expect(result).toMatchObject({ ok: true, value: "0.0.0.0/5" });
    expect(result.ok && result.warning).toContain("0.0.0.0/5");
  });

  it("treats a bare address as a host prefix", () => {
    expect(parsePrefix("10.0.0.1")).toEqual({ ok: true, value: "10.0.0.1/32" });
    expect(parsePrefix("fd00::1")).toEqual({ ok: true, value: "fd00::1/128" });
  });

  it.each(["10.0.0.0/33", "fd00::/129", "10.0.0.0/-1", "10.0.0.0/", "x/8"])("refuses %j", (input) => {
    expect(parsePrefix(input).ok).toBe(false);
  });

  it("containment: equal and inner prefixes are contained, broader ones are not", () => {
    const p = (s: string) => s as Prefix;
    expect(prefixContains(p("127.0.0.0/8"), p("127.0.0.0/8"))).toBe(true);
    expect(prefixContains(p("127.0.0.0/8"), p("127.1.0.0/16"))).toBe(true);
    expect(prefixContains(p("127.0.0.0/8"), p("0.0.0.0/0"))).toBe(false);
    expect(prefixContains(p("fe80::/10"), p("fe80::1/128"))).toBe(true);
    expect(prefixContains(p("fe80::/10"), p("10.0.0.0/8"))).toBe(false);
  });

  it("orders prefixes by family, address, then length", () => {
    const sorted = ["fd00::/8", "10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8"]
      .map((s) => s as Prefix)
      .sort(comparePrefixes);
    expect(sorted).toEqual(["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "fd00::/8"]);
  });
});
