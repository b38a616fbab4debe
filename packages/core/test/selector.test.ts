import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NodeSelector, NodeSelectorRequirement, NodeSelectorTerm } from "../src/route.ts";
import { nodeSelectorMatches, parseInt64 } from "../src/selector.ts";

const node = {
  name: "node-1",
  labels: { pool: "worker-pool", zone: "a", rank: "5", big: "9223372036854775807" },
};
const req = (key: string, operator: NodeSelectorRequirement["operator"], values?: string[]) =>
  values === undefined ? { key, operator } : { key, operator, values };
const one = (...matchExpressions: NodeSelectorRequirement[]): NodeSelector => ({
  nodeSelectorTerms: [{ matchExpressions }],
});
const fields = (...matchFields: NodeSelectorRequirement[]): NodeSelector => ({
  nodeSelectorTerms: [{ matchFields }],
});

describe("nodeSelectorMatches: Kubernetes semantics, case by case", () => {
  it.each<[string, NodeSelector | undefined, boolean]>([
    ["absent selector selects every node", undefined, true],
    ["no terms selects nothing", { nodeSelectorTerms: [] }, false],
    ["an empty term selects nothing", { nodeSelectorTerms: [{}] }, false],
    [
      "an empty term with empty lists selects nothing",
      { nodeSelectorTerms: [{ matchExpressions: [], matchFields: [] }] },
      false,
    ],
    [
      "an empty term does not spoil a matching one (ORed)",
      { nodeSelectorTerms: [{}, one(req("zone", "Exists")).nodeSelectorTerms[0] as NodeSelectorTerm] },
      true,
    ],
    ["In, value present", one(req("pool", "In", ["x", "worker-pool"])), true],
    ["In, other value", one(req("pool", "In", ["x"])), false],
    ["In, label absent", one(req("nope", "In", ["x"])), false],
    ["NotIn, other value", one(req("pool", "NotIn", ["x"])), true],
    ["NotIn, value present", one(req("pool", "NotIn", ["worker-pool"])), false],
    ["NotIn, label absent is true", one(req("nope", "NotIn", ["x"])), true],
    ["Exists", one(req("zone", "Exists")), true],
    ["Exists, absent", one(req("nope", "Exists")), false],
    ["DoesNotExist, absent", one(req("nope", "DoesNotExist")), true],
    ["DoesNotExist, present", one(req("zone", "DoesNotExist")), false],
    ["Gt, greater", one(req("rank", "Gt", ["4"])), true],
    ["Gt, equal is not greater", one(req("rank", "Gt", ["5"])), false],
    ["Lt, smaller", one(req("rank", "Lt", ["10"])), true],
    ["Lt compares as integers, not strings", one(req("rank", "Lt", ["40"])), true],
    ["Lt with leading zeros", one(req("rank", "Lt", ["0006"])), true],
    ["Gt on a non-integer label is false", one(req("pool", "Gt", ["1"])), false],
    ["Lt on a non-integer label is false", one(req("pool", "Lt", ["1"])), false],
    ["Gt on an absent label is false", one(req("nope", "Gt", ["1"])), false],
    ["Gt is exact at int64 limits", one(req("big", "Gt", ["9223372036854775806"])), true],
    ["Gt with a non-integer value never matches", one(req("rank", "Gt", ["x"])), false],
    ["Gt with a signed value is malformed (not a label value)", one(req("rank", "Gt", ["-1"])), false],
    ["Gt with two values is malformed", one(req("rank", "Gt", ["1", "2"])), false],
    [
      "requirements in a term are ANDed (all true)",
      one(req("pool", "In", ["worker-pool"]), req("zone", "In", ["a"])),
      true,
    ],
    [
      "requirements in a term are ANDed (one false)",
      one(req("pool", "In", ["worker-pool"]), req("zone", "In", ["b"])),
      false,
    ],
    [
      "terms are ORed",
      {
        nodeSelectorTerms: [
          one(req("zone", "In", ["b"])).nodeSelectorTerms[0] as NodeSelectorTerm,
          one(req("zone", "In", ["a"])).nodeSelectorTerms[0] as NodeSelectorTerm,
        ],
      },
      true,
    ],
    ["a malformed requirement makes its term match nothing", one(req("zone", "Exists", ["a"])), false],
    ["In with no values is malformed", one(req("nope", "NotIn", [])), false],
    ["matchFields metadata.name In", fields(req("metadata.name", "In", ["node-1"])), true],
    ["matchFields metadata.name In, other node", fields(req("metadata.name", "In", ["node-2"])), false],
    ["matchFields metadata.name NotIn", fields(req("metadata.name", "NotIn", ["node-2"])), true],
    ["matchFields metadata.name NotIn, this node", fields(req("metadata.name", "NotIn", ["node-1"])), false],
    [
      "matchFields with two values is malformed",
      fields(req("metadata.name", "In", ["node-1", "node-2"])),
      false,
    ],
    ["matchFields with another key is malformed", fields(req("metadata.uid", "NotIn", ["x"])), false],
    ["matchFields Exists is malformed", fields(req("metadata.name", "Exists")), false],
    [
      "matchExpressions and matchFields in one term are ANDed",
      {
        nodeSelectorTerms: [
          {
            matchExpressions: [req("zone", "Exists")],
            matchFields: [req("metadata.name", "In", ["node-2"])],
          },
        ],
      },
      false,
    ],
    ["a label key that is an Object prototype name is not present", one(req("constructor", "Exists")), false],
  ])("%s", (_, selector, expected) => {
    expect(nodeSelectorMatches(selector, node)).toBe(expected);
  });
});

describe("parseInt64", () => {
  it.each([
    ["0", 0n],
    ["+5", 5n],
    ["-5", -5n],
    ["007", 7n],
    ["9223372036854775807", 9223372036854775807n],
    ["-9223372036854775808", -9223372036854775808n],
  ])("parses %s", (text, value) => {
    expect(parseInt64(text)).toBe(value);
  });
  it.each(["", "1.0", "1e3", " 1", "9223372036854775808", "0x10", "--1"])("refuses %j", (text) => {
    expect(parseInt64(text)).toBeUndefined();
  });
});

// --- A reference model, written as plainly as possible from the Kubernetes docs. ---

type Labels = Record<string, string>;
const validKey = (k: string) =>
  /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(k) && k.split("/").pop()!.length <= 63;
const validValue = (v: string) =>
  v === "" || (/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(v) && v.length <= 63);
const asInt = (s: string): bigint | undefined => {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  return n >= -(2n ** 63n) && n < 2n ** 63n ? n : undefined;
};

function modelExpression(r: NodeSelectorRequirement, labels: Labels): boolean | "malformed" {
  const vs = r.values ?? [];
  if (!validKey(r.key) || !vs.every(validValue)) return "malformed";
  const present = Object.keys(labels).includes(r.key);
  const v = labels[r.key];
  if (r.operator === "In") return vs.length === 0 ? "malformed" : present && vs.includes(v as string);
  if (r.operator === "NotIn") return vs.length === 0 ? "malformed" : !present || !vs.includes(v as string);
  if (r.operator === "Exists") return vs.length > 0 ? "malformed" : present;
  if (r.operator === "DoesNotExist") return vs.length > 0 ? "malformed" : !present;
  if (vs.length !== 1 || asInt(vs[0] as string) === undefined) return "malformed";
  if (!present || asInt(v as string) === undefined) return false;
  const [have, bound] = [asInt(v as string) as bigint, asInt(vs[0] as string) as bigint];
  return r.operator === "Gt" ? have > bound : have < bound;
}

function modelField(r: NodeSelectorRequirement, name: string): boolean | "malformed" {
  if (r.key !== "metadata.name" || (r.values ?? []).length !== 1) return "malformed";
  if (r.operator === "In") return r.values?.[0] === name;
  if (r.operator === "NotIn") return r.values?.[0] !== name;
  return "malformed";
}

function model(selector: NodeSelector | undefined, name: string, labels: Labels): boolean {
  if (selector === undefined) return true;
  for (const term of selector.nodeSelectorTerms) {
    const results = [
      ...(term.matchExpressions ?? []).map((r) => modelExpression(r, labels)),
      ...(term.matchFields ?? []).map((r) => modelField(r, name)),
    ];
    if (results.length === 0 || results.includes("malformed")) continue;
    if (results.every((x) => x === true)) return true;
  }
  return false;
}

// Small alphabets so that keys, values and names collide often.
const key = fc.constantFrom("pool", "zone", "rank", "example.com/tier", "bad key", "");
const value = fc.constantFrom(
  "a",
  "b",
  "worker-pool",
  "1",
  "5",
  "10",
  "-3",
  "+2",
  "x y",
  "",
  "99999999999999999999",
);
const operator = fc.constantFrom<NodeSelectorRequirement["operator"]>(
  "In",
  "NotIn",
  "Exists",
  "DoesNotExist",
  "Gt",
  "Lt",
);
const requirement = (keys: fc.Arbitrary<string>): fc.Arbitrary<NodeSelectorRequirement> =>
  fc.record(
    { key: keys, operator, values: fc.array(value, { maxLength: 3 }) },
    { requiredKeys: ["key", "operator"] },
  );
const term: fc.Arbitrary<NodeSelectorTerm> = fc.record(
  {
    matchExpressions: fc.array(requirement(key), { maxLength: 3 }),
    matchFields: fc.array(requirement(fc.constantFrom("metadata.name", "metadata.uid")), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const selector = fc.option(fc.record({ nodeSelectorTerms: fc.array(term, { maxLength: 3 }) }), {
  nil: undefined,
});
const nodeName = fc.constantFrom("a", "b", "node-1");
const labels = fc.dictionary(key, value, { maxKeys: 4 });

describe("nodeSelectorMatches agrees with a reference model", () => {
  it("for random selectors and nodes", () => {
    fc.assert(
      fc.property(selector, nodeName, labels, (s, name, l) => {
        expect(nodeSelectorMatches(s, { name, labels: l })).toBe(model(s, name, l));
      }),
      { numRuns: 2000 },
    );
  });

  it("is insensitive to the order of terms and of requirements", () => {
    fc.assert(
      fc.property(fc.array(term, { maxLength: 3 }), nodeName, labels, (terms, name, l) => {
        const reversed = terms.map((t) => ({
          ...(t.matchExpressions === undefined
            ? {}
            : { matchExpressions: [...t.matchExpressions].reverse() }),
          ...(t.matchFields === undefined ? {} : { matchFields: [...t.matchFields].reverse() }),
        }));
        const n = { name, labels: l };
        expect(nodeSelectorMatches({ nodeSelectorTerms: [...reversed].reverse() }, n)).toBe(
          nodeSelectorMatches({ nodeSelectorTerms: terms }, n),
        );
      }),
    );
  });
});
