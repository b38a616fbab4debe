import { decodeLine, decodeLog, type EngineEvent, encodeEvent, encodeLog, validateRoute } from "@kroute/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyRouteObject, engineEvent, eventLog, routeObject } from "../src/arbitraries.ts";

describe("event log v1 codec", () => {
  it("decode(encode(event)) is the event, for every kind", () => {
    fc.assert(
      fc.property(engineEvent(), (event) => {
        const result = decodeLine(encodeEvent(event), 1);
        expect(result).toEqual({ kind: "event", event });
      }),
      { numRuns: 500 },
    );
  });

  it("decodeLog(encodeLog(events)) gives the events back without warnings", () => {
    fc.assert(
      fc.property(eventLog(), (events: EngineEvent[]) => {
        expect(decodeLog(encodeLog(events))).toEqual({ ok: true, events, warnings: [] });
      }),
    );
  });

  it("encoding is stable: encode(decode(line)) is the line", () => {
    fc.assert(
      fc.property(engineEvent(), (event) => {
        const text = encodeEvent(event);
        const result = decodeLine(text, 1);
        expect(result.kind === "event" && encodeEvent(result.event)).toBe(text);
      }),
    );
  });

  it("reading a corrupted line never throws", () => {
    fc.assert(
      fc.property(engineEvent(), fc.nat(), fc.string({ maxLength: 3 }), (event, cut, junk) => {
        const text = encodeEvent(event);
        const position = cut % (text.length + 1);
        decodeLine(text.slice(0, position) + junk + text.slice(position + junk.length), 1);
      }),
    );
  });
});

describe("Route arbitraries", () => {
  it("routeObject() generates Routes the validator accepts, keeping every destination", () => {
    fc.assert(
      fc.property(routeObject(), (route) => {
        const result = validateRoute(route);
        expect(result.ok).toBe(true);
        if (result.ok) expect(result.route.issues).toEqual([]);
      }),
    );
  });

  it("anyRouteObject() never makes the validator throw", () => {
    fc.assert(fc.property(anyRouteObject(), (route) => void validateRoute(route)));
  });
});
