/** A Route spec nested past any real one: cut where it is too deep, so the agent can compare and record it. */
import { validateRoute } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { toRouteObject } from "../../src/kube/routes.ts";
import { MAX_SPEC_DEPTH, TOO_DEEP } from "../../src/kube/spec-depth.ts";

/** `inner` inside `levels` lists: what a CRD without a schema lets the API server store. */
function nested(inner: unknown, levels: number): unknown {
  let value = inner;
  for (let level = 0; level < levels; level++) value = [value];
  return value;
}

const meta = { name: "deep", generation: 1, creationTimestamp: "2026-01-01T00:00:00Z" };

describe("toRouteObject, given a spec nested thousands of levels deep", () => {
  it("cuts it to a value JSON.stringify takes, refused at its own path; the rest of the Route is kept", () => {
    const spec = {
      destinations: ["10.9.0.0/16", nested("10.8.0.0/16", 9_000)],
      gateways: ["192.168.1.1"],
      extra: { notes: nested("x", 9_000) },
    };
    const route = toRouteObject({ metadata: meta, spec });
    if (route === undefined) throw new Error("the Route has a name");
    // The agent compares a Route with its last version, and records it, as JSON.
    expect(() => JSON.stringify(route)).not.toThrow();
    const validation = validateRoute(route);
    if (!validation.ok) throw new Error("the Route should stay usable");
    expect(validation.route.destinations.map((d) => d.prefix)).toEqual(["10.9.0.0/16"]);
    expect(validation.route.issues).toEqual([
      expect.objectContaining({
        field: "spec.destinations[1]",
        message: "a list is not a string",
      }),
    ]);
    expect(validation.route.warnings.map((w) => [w.field, w.message])).toEqual([
      ["spec.extra", "unknown field, ignored"],
    ]);
    // Cut MAX_SPEC_DEPTH levels below spec: spec.destinations is level 1.
    let cut: unknown = (route.spec as { destinations: unknown[] }).destinations;
    for (let level = 1; level < MAX_SPEC_DEPTH; level++) cut = (cut as unknown[]).at(-1);
    expect(cut).toBe(TOO_DEEP);
  });

  it("refuses the whole Route for a gateway nested too deep, naming it", () => {
    const spec = { destinations: ["10.9.0.0/16"], gateways: [nested("192.168.1.1", 9_000)] };
    const route = toRouteObject({ metadata: meta, spec });
    const validation = route === undefined ? undefined : validateRoute(route);
    expect(validation?.ok).toBe(false);
    expect(validation?.ok === false && validation.issues.map((i) => i.field)).toEqual(["spec.gateways[0]"]);
  });

  it("passes a spec of ordinary depth through as it is, without copying it", () => {
    const spec = {
      destinations: ["10.9.0.0/16"],
      gateways: ["192.168.1.1"],
      nodeSelector: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: "a", operator: "In", values: ["b"] }] }],
      },
    };
    expect(toRouteObject({ metadata: meta, spec })?.spec).toBe(spec);
  });
});
