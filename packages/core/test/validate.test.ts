import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { IpAddr, Prefix } from "../src/ip.ts";
import type { RouteObject, RouteValidation, ValidRoute } from "../src/route.ts";
import { formatIssue, gatewaysForFamily, validateRoute } from "../src/validate.ts";

const route = (spec: unknown, metadata: Record<string, unknown> = { name: "r" }): RouteObject =>
  ({ metadata, spec }) as RouteObject;

const basicSpec = {
  destinations: ["1.2.3.4/5"],
  gateways: ["10.114.0.3", "10.114.0.4"],
  nodeSelector: {
    nodeSelectorTerms: [
      {
        matchExpressions: [
          { key: "doks.digitalocean.com/node-pool", operator: "In", values: ["worker-pool"] },
        ],
      },
    ],
  },
};

function accepted(result: RouteValidation): ValidRoute {
  if (!result.ok) throw new Error(`refused: ${result.issues.map(formatIssue).join("; ")}`);
  return result.route;
}

function refusal(result: RouteValidation): string[] {
  if (result.ok) throw new Error("accepted, expected a refusal");
  return result.issues.map(formatIssue);
}

describe("validateRoute: the SPEC's seed examples", () => {
  it("accepts the basic Route, normalising 1.2.3.4/5 to 0.0.0.0/5 with a warning", () => {
    const valid = accepted(
      validateRoute(
        route(basicSpec, { name: "basic", generation: 3, creationTimestamp: "2026-01-01T00:00:00Z" }),
      ),
    );
    expect(valid).toMatchObject({
      name: "basic",
      generation: 3,
      creationTimestamp: "2026-01-01T00:00:00Z",
      destinations: [{ index: 0, prefix: "0.0.0.0/5", family: 4 }],
      gateways: ["10.114.0.3", "10.114.0.4"],
      probe: true,
      table: 254,
      issues: [],
      nodeSelector: basicSpec.nodeSelector,
    });
    expect(valid.warnings.map(formatIssue)).toEqual([
      'spec.destinations[0]: "1.2.3.4/5" has host bits set; normalised to 0.0.0.0/5',
    ]);
  });

  it("accepts a single gateway and a default-route override, with no selector meaning every node", () => {
    const single = accepted(
      validateRoute(route({ destinations: ["192.168.0.0/16"], gateways: ["10.0.0.1"] })),
    );
    expect(single.gateways).toEqual(["10.0.0.1"]);
    expect(single.nodeSelector).toBeUndefined();
    const override = accepted(
      validateRoute(route({ destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.4"] })),
    );
    expect(override.destinations).toEqual([{ index: 0, prefix: "0.0.0.0/0", family: 4 }]);
    expect(override.warnings).toEqual([]);
  });

  it("defaults generation to 0 and creationTimestamp to the empty string", () => {
    const valid = accepted(validateRoute(route(basicSpec, { name: "x" })));
    expect(valid.generation).toBe(0);
    expect(valid.creationTimestamp).toBe("");
  });
});

describe("validateRoute: destinations", () => {
  it("keeps the good destinations when one is bad, naming field, index and value", () => {
    const valid = accepted(
      validateRoute(
        route({
          destinations: ["10.0.0.0/8", "fd00::/8", "192.168.1.1", "10.0.0.300/8", 7, "10.0.0.0/33"],
          gateways: ["10.0.0.1", "fd00::1"],
        }),
      ),
    );
    expect(valid.destinations).toEqual([
      { index: 0, prefix: "10.0.0.0/8", family: 4 },
      { index: 1, prefix: "fd00::/8", family: 6 },
      { index: 2, prefix: "192.168.1.1/32", family: 4 },
    ]);
    expect(valid.issues.map(formatIssue)).toEqual([
      'spec.destinations[3]: "10.0.0.300/8" is not an IPv4 or IPv6 CIDR',
      "spec.destinations[4]: 7 is not a string",
      'spec.destinations[5]: "10.0.0.0/33" is not an IPv4 or IPv6 CIDR (prefix length must be 0..32)',
    ]);
    expect(valid.issues[0]?.value).toBe("10.0.0.300/8");
  });

  it("warns of a creationTimestamp that is not a time, naming the value, and counts the Route as oldest", () => {
    const object = route({ destinations: ["10.0.0.0/8"], gateways: ["10.0.0.1"] });
    const valid = accepted(
      validateRoute({ ...object, metadata: { ...object.metadata, creationTimestamp: "yesterday" } }),
    );
    expect(valid.creationTimestamp).toBe("");
    expect(valid.warnings.map(formatIssue)).toContain(
      'metadata.creationTimestamp: "yesterday" is not a time; the Route counts as the oldest in conflicts',
    );
  });

  it("drops a destination that normalises to an earlier one, with a warning", () => {
    const valid = accepted(
      validateRoute(route({ destinations: ["10.0.0.0/8", "10.9.9.9/8"], gateways: ["10.0.0.1"] })),
    );
    expect(valid.destinations.map((d) => d.prefix)).toEqual(["10.0.0.0/8"]);
    expect(valid.warnings.map(formatIssue)).toContain(
      "spec.destinations[1]: 10.0.0.0/8 repeats spec.destinations[0]; ignored",
    );
  });

  it.each([
    [{ gateways: ["10.0.0.1"] }, "spec.destinations: must be a list of 1..1024 CIDRs, got nothing"],
    [
      { destinations: [], gateways: ["10.0.0.1"] },
      "spec.destinations: must be a list of 1..1024 CIDRs, got 0 entries",
    ],
    [
      { destinations: "10.0.0.0/8", gateways: ["10.0.0.1"] },
      'spec.destinations: must be a list of 1..1024 CIDRs, got "10.0.0.0/8"',
    ],
    [{ destinations: ["nope"], gateways: ["10.0.0.1"] }, "spec.destinations: no valid destination"],
  ])("refuses the Route when no destination is usable: %j", (spec, message) => {
    expect(refusal(validateRoute(route(spec)))).toContain(message);
  });

  it("refuses more than 1024 destinations and accepts exactly 1024", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    expect(validateRoute(route({ destinations: many(1024), gateways: ["10.0.0.1"] })).ok).toBe(true);
    expect(refusal(validateRoute(route({ destinations: many(1025), gateways: ["10.0.0.1"] })))).toContain(
      "spec.destinations: must be a list of 1..1024 CIDRs, got 1025 entries",
    );
  });
});

describe("validateRoute: gateways", () => {
  it("dedupes repeated gateways by canonical form, with a warning", () => {
    const valid = accepted(
      validateRoute(route({ destinations: ["fd00::/8"], gateways: ["fd00::1", "FD00:0::1", "fd00::2"] })),
    );
    expect(valid.gateways).toEqual(["fd00::1", "fd00::2"]);
    expect(valid.warnings.map(formatIssue)).toEqual([
      "spec.gateways[1]: fd00::1 repeats spec.gateways[0]; ignored",
    ]);
  });

  it("allows IPv6 link-local gateways", () => {
    expect(
      accepted(validateRoute(route({ destinations: ["::/0"], gateways: ["fe80::1"] }))).gateways,
    ).toEqual(["fe80::1"]);
  });

  it.each([
    [{ destinations: ["10.0.0.0/8"] }, "spec.gateways: must be a list of 1..32 IP addresses, got nothing"],
    [
      { destinations: ["10.0.0.0/8"], gateways: [] },
      "spec.gateways: must be a list of 1..32 IP addresses, got 0 entries",
    ],
    [
      { destinations: ["10.0.0.0/8"], gateways: ["10.0.0.1", "10.0.0.256"] },
      'spec.gateways[1]: "10.0.0.256" is not an IPv4 or IPv6 address',
    ],
    [
      { destinations: ["10.0.0.0/8"], gateways: ["10.0.0.0/24"] },
      'spec.gateways[0]: "10.0.0.0/24" is not an IPv4 or IPv6 address',
    ],
    [
      { destinations: ["10.0.0.0/8"], gateways: [null] },
      "spec.gateways[0]: null is not an IPv4 or IPv6 address",
    ],
    [
      { destinations: ["10.0.0.0/8"], gateways: ["127.0.0.1"] },
      "spec.gateways[0]: 127.0.0.1 lies within 127.0.0.0/8 (loopback); not a usable gateway",
    ],
    [
      { destinations: ["10.0.0.0/8"], gateways: ["224.0.0.5"] },
      "spec.gateways[0]: 224.0.0.5 lies within 224.0.0.0/4 (multicast); not a usable gateway",
    ],
    [
      { destinations: ["::/0"], gateways: ["::"] },
      "spec.gateways[0]: :: lies within ::/128 (unspecified address); not a usable gateway",
    ],
  ])("refuses the whole Route for a bad gateway: %j", (spec, message) => {
    expect(refusal(validateRoute(route(spec)))).toContain(message);
  });

  it("refuses 33 gateways and accepts 32", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `10.0.1.${i + 1}`);
    expect(validateRoute(route({ destinations: ["0.0.0.0/0"], gateways: many(32) })).ok).toBe(true);
    expect(validateRoute(route({ destinations: ["0.0.0.0/0"], gateways: many(33) })).ok).toBe(false);
  });

  it("gatewaysForFamily keeps the gateways of one family, in order", () => {
    const gateways = ["10.0.0.1", "fd00::1", "10.0.0.2"] as IpAddr[];
    expect(gatewaysForFamily({ gateways }, 4)).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(gatewaysForFamily({ gateways }, 6)).toEqual(["fd00::1"]);
    expect(gatewaysForFamily({ gateways: [gateways[0] as IpAddr] }, 6)).toEqual([]);
  });
});

describe("validateRoute: nodeSelector", () => {
  const withSelector = (nodeSelector: unknown) =>
    validateRoute(route({ destinations: ["10.0.0.0/8"], gateways: ["10.0.0.1"], nodeSelector }));
  const term = (requirement: unknown, kind = "matchExpressions") => ({
    nodeSelectorTerms: [{ [kind]: [requirement] }],
  });

  it.each([
    [
      term({ key: "a", operator: "In", values: [] }),
      "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: In needs at least one value, got none",
    ],
    [
      term({ key: "a", operator: "NotIn" }),
      "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: NotIn needs at least one value, got none",
    ],
    [
      term({ key: "a", operator: "Exists", values: ["x"] }),
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: Exists takes no values, got ["x"]',
    ],
    [
      term({ key: "a", operator: "Gt", values: ["x"] }),
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: Gt needs exactly one integer value, got ["x"]',
    ],
    [
      term({ key: "a", operator: "Gt", values: ["-1"] }),
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values[0]: "-1" is not a valid label value',
    ],
    [
      term({ key: "a", operator: "Lt", values: ["1", "2"] }),
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: Lt needs exactly one integer value, got ["1","2"]',
    ],
    [
      term({ key: "a", operator: "Like", values: ["1"] }),
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].operator: "Like" is not one of In, NotIn, Exists, DoesNotExist, Gt, Lt',
    ],
    [
      term({ key: "bad key", operator: "Exists" }),
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].key: "bad key" is not a valid label key',
    ],
    [
      term({ key: "metadata.uid", operator: "In", values: ["x"] }, "matchFields"),
      'spec.nodeSelector.nodeSelectorTerms[0].matchFields[0].key: "metadata.uid" is not a node field; only metadata.name',
    ],
    [
      term({ key: "metadata.name", operator: "Exists" }, "matchFields"),
      'spec.nodeSelector.nodeSelectorTerms[0].matchFields[0].operator: matchFields supports only In and NotIn, got "Exists"',
    ],
    [
      term({ key: "metadata.name", operator: "In", values: ["a", "b"] }, "matchFields"),
      'spec.nodeSelector.nodeSelectorTerms[0].matchFields[0].values: matchFields In and NotIn need exactly one value, got ["a","b"]',
    ],
    [{ nodeSelectorTerms: "all" }, "spec.nodeSelector: must be an object with a nodeSelectorTerms list"],
    [{ nodeSelectorTerms: [5] }, "spec.nodeSelector.nodeSelectorTerms[0]: must be an object, got 5"],
    [
      { nodeSelectorTerms: [{ matchExpressions: {} }] },
      "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions: must be a list of requirements, got an object",
    ],
  ])("refuses a malformed selector: %j", (selector, message) => {
    expect(refusal(withSelector(selector))).toEqual([message]);
  });

  it("refuses a selector larger than the CRD admits, naming the list and its size; at the limits it is accepted", () => {
    const values = (n: number) => Array.from({ length: n }, (_, i) => `v${i}`);
    const requirements = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ key: `k${i}`, operator: "Exists" }));
    const terms = (n: number) => Array.from({ length: n }, () => ({ matchExpressions: requirements(1) }));
    const node = { matchFields: [{ key: "metadata.name", operator: "In", values: ["node-1"] }] };
    expect(refusal(withSelector(term({ key: "a", operator: "In", values: values(65) })))).toEqual([
      "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: 65 values; at most 64",
    ]);
    expect(refusal(withSelector({ nodeSelectorTerms: [{ matchExpressions: requirements(33) }] }))).toEqual([
      "spec.nodeSelector.nodeSelectorTerms[0].matchExpressions: 33 requirements; at most 32",
    ]);
    const fields = Array.from({ length: 33 }, () => node.matchFields[0]);
    expect(refusal(withSelector({ nodeSelectorTerms: [{ matchFields: fields }] }))).toEqual([
      "spec.nodeSelector.nodeSelectorTerms[0].matchFields: 33 requirements; at most 32",
    ]);
    expect(refusal(withSelector({ nodeSelectorTerms: terms(33) }))).toEqual([
      "spec.nodeSelector.nodeSelectorTerms: 33 terms; at most 32",
    ]);
    // A hostile size costs one count, not a message listing every value.
    const huge = refusal(withSelector(term({ key: "a", operator: "Lt", values: values(100_000) })));
    expect(huge.join("").length).toBeLessThan(200);
    const atLimits = accepted(
      withSelector({
        nodeSelectorTerms: [
          ...terms(31),
          { matchExpressions: [{ key: "a", operator: "In", values: values(64) }, ...requirements(31)] },
        ],
      }),
    );
    expect(atLimits.nodeSelector?.nodeSelectorTerms).toHaveLength(32);
  });

  it("accepts Gt/Lt with one integer, and matchFields on metadata.name", () => {
    const valid = accepted(
      withSelector({
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "rank", operator: "Gt", values: ["007"] }] },
          { matchFields: [{ key: "metadata.name", operator: "NotIn", values: ["node-1"] }] },
        ],
      }),
    );
    expect(valid.nodeSelector?.nodeSelectorTerms).toHaveLength(2);
  });

  it("accepts empty terms and an empty term list (they match nothing) with warnings", () => {
    expect(accepted(withSelector({ nodeSelectorTerms: [{}] })).warnings.map(formatIssue)).toEqual([
      "spec.nodeSelector.nodeSelectorTerms[0]: an empty term matches no node",
    ]);
    expect(accepted(withSelector({ nodeSelectorTerms: [] })).warnings.map(formatIssue)).toEqual([
      "spec.nodeSelector.nodeSelectorTerms: no terms: matches no node",
    ]);
  });

  it("treats a null selector as absent and drops unknown selector fields", () => {
    expect(accepted(withSelector(null)).nodeSelector).toBeUndefined();
    const valid = accepted(
      withSelector({
        nodeSelectorTerms: [{ matchExpressions: [{ key: "a", operator: "Exists", extra: 1 }] }],
      }),
    );
    expect(valid.nodeSelector).toEqual({
      nodeSelectorTerms: [{ matchExpressions: [{ key: "a", operator: "Exists" }] }],
    });
  });
});

describe("validateRoute: probe, table, metadata, spec", () => {
  const base = { destinations: ["10.0.0.0/8"], gateways: ["10.0.0.1"] };

  it("reads probe and table", () => {
    expect(accepted(validateRoute(route({ ...base, probe: false, table: 100 })))).toMatchObject({
      probe: false,
      table: 100,
    });
    expect(accepted(validateRoute(route({ ...base, table: 4294967295 }))).table).toBe(4294967295);
  });

  it.each([
    [{ table: 0 }, "spec.table: 0 is not a table (RT_TABLE_UNSPEC)"],
    [{ table: 253 }, "spec.table: 253 is the kernel's default table; kroute does not write it"],
    [{ table: 255 }, "spec.table: 255 is the kernel's local table; kroute never writes it"],
    [{ table: 4294967296 }, "spec.table: 4294967296 is not a table id (an integer 1..4294967295)"],
    [{ table: 1.5 }, "spec.table: 1.5 is not a table id (an integer 1..4294967295)"],
    [{ table: "main" }, 'spec.table: "main" is not a table id (an integer 1..4294967295)'],
    [{ probe: "yes" }, 'spec.probe: "yes" is not true or false'],
  ])("refuses %j", (extra, message) => {
    expect(refusal(validateRoute(route({ ...base, ...extra })))).toEqual([message]);
  });

  it("warns about unknown spec fields (a typo should not pass silently)", () => {
    expect(accepted(validateRoute(route({ ...base, gatways: ["x"] }))).warnings.map(formatIssue)).toEqual([
      "spec.gatways: unknown field, ignored",
    ]);
  });

  it("refuses a Route without a name, or whose spec is not an object", () => {
    expect(refusal(validateRoute(route(base, {})))).toEqual(["metadata.name: required; got nothing"]);
    expect(refusal(validateRoute(route(null)))).toEqual(["spec: must be an object, got null"]);
    expect(refusal(validateRoute(route(["x"])))).toEqual(["spec: must be an object, got a list"]);
  });

  it("reports every problem of a refused Route at once, destination issues included", () => {
    const result = validateRoute(route({ destinations: ["x", "10.0.0.0/8"], gateways: ["y"], table: 0 }));
    expect(refusal(result)).toEqual([
      'spec.gateways[0]: "y" is not an IPv4 or IPv6 address',
      "spec.table: 0 is not a table (RT_TABLE_UNSPEC)",
      'spec.destinations[0]: "x" is not an IPv4 or IPv6 CIDR',
    ]);
    expect(result).toMatchObject({ ok: false, name: "r", generation: 0 });
  });
});

describe("validateRoute never throws", () => {
  it("on any spec", () => {
    fc.assert(
      fc.property(fc.anything(), (spec) => {
        validateRoute(route(spec));
      }),
    );
  });

  it("on any object at all", () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        validateRoute(value as RouteObject);
      }),
    );
  });

  it("on specs shaped like Routes with arbitrary leaves", () => {
    const leaf = fc.oneof(
      fc.anything(),
      fc.constantFrom("10.0.0.1", "fd00::/8", "In", "Gt", "metadata.name"),
    );
    const requirement = fc.record({ key: leaf, operator: leaf, values: fc.oneof(leaf, fc.array(leaf)) });
    const spec = fc.record(
      {
        destinations: fc.oneof(leaf, fc.array(leaf)),
        gateways: fc.oneof(leaf, fc.array(leaf)),
        nodeSelector: fc.oneof(
          leaf,
          fc.record({
            nodeSelectorTerms: fc.array(
              fc.record({ matchExpressions: fc.array(requirement), matchFields: fc.array(requirement) }),
            ),
          }),
        ),
        probe: leaf,
        table: leaf,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(spec, (s) => {
        const result = validateRoute(route(s));
        // Whatever comes out is internally consistent: accepted Routes have usable parts.
        if (result.ok) {
          expect(result.route.destinations.length).toBeGreaterThan(0);
          expect(result.route.gateways.length).toBeGreaterThan(0);
        } else {
          expect(result.issues.length).toBeGreaterThan(0);
        }
      }),
    );
  });

  it("accepted destinations are canonical prefixes whatever their spelling", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (address, length) => {
        const valid = accepted(
          validateRoute(route({ destinations: [`${address}/${length}`], gateways: ["10.0.0.1"] })),
        );
        const prefix = valid.destinations[0]?.prefix as Prefix;
        const again = accepted(validateRoute(route({ destinations: [prefix], gateways: ["10.0.0.1"] })));
        expect(again.destinations[0]?.prefix).toBe(prefix);
        expect(again.warnings).toEqual([]);
      }),
    );
  });
});
