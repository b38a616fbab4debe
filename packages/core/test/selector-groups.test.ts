import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emptyHashMap, type HashMap, hmForEach } from "../src/hashmap.ts";
import type { RouteValidation } from "../src/route.ts";
import { selectedRoutes } from "../src/selector-groups.ts";
import { validatedRoute, validationName, withRoute } from "../src/shared-routes.ts";
import { selectedOn } from "../src/shared-selection.ts";
import { NODE, route } from "./fixtures.ts";

const inPool = (pool: string) => ({
  nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: [pool] }] }],
});
const SELECTORS = [
  undefined,
  inPool("a"),
  inPool("b"),
  { nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [NODE] }] }] },
];
const LABELS = [{}, { pool: "a" }, { pool: "b" }];
const NAMES = ["alpha", "beta", "gamma", "delta", "epsilon"];

/** One Route event on the index: set (a selector, or an invalid Route) or deleted. */
const changeArb = fc.record({
  name: fc.constantFrom(...NAMES),
  selector: fc.integer({ min: 0, max: SELECTORS.length - 1 }),
  valid: fc.boolean(),
  deleted: fc.boolean(),
  /** Asks for the selection after this change: the groups are made then, and followed after. */
  ask: fc.boolean(),
});

/** The selection one Route at a time, as the reducer found it before the groups. */
function oneByOne(byName: HashMap<RouteValidation>, ctx: Parameters<typeof selectedRoutes>[1]): string[] {
  const names: string[] = [];
  hmForEach(byName, (validation, name) => {
    if (validation.ok && selectedOn(validation.route, ctx)) names.push(name);
  });
  return names.sort();
}

function byGroups(byName: HashMap<RouteValidation>, ctx: Parameters<typeof selectedRoutes>[1]): string[] {
  return selectedRoutes(byName, ctx).map(validationName).sort();
}

const contexts = [
  { nodeName: NODE, node: { observed: false, labels: {} } },
  ...LABELS.map((labels) => ({ nodeName: NODE, node: { observed: true, labels } })),
  { nodeName: "node-b", node: { observed: true, labels: { pool: "a" } } },
];

describe("Routes selected by selector group", () => {
  it("are those selected one Route at a time, whatever Route events came before and after the groups were made", () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 40 }), (changes) => {
        let byName = emptyHashMap<RouteValidation>();
        const check = () => {
          for (const ctx of contexts) expect(byGroups(byName, ctx)).toEqual(oneByOne(byName, ctx));
        };
        for (const change of changes) {
          const validation = change.deleted
            ? undefined
            : validatedRoute(
                route(change.name, {
                  destinations: [change.valid ? "10.9.0.0/16" : "not a prefix"],
                  gateways: ["10.114.0.3"],
                  ...(SELECTORS[change.selector] === undefined
                    ? {}
                    : { nodeSelector: SELECTORS[change.selector] }),
                }),
              );
          byName = withRoute(byName, change.name, validation);
          if (change.ask) check();
        }
        check();
      }),
    );
  });
});
