import { describe, expect, it } from "vitest";
import { bootstrapEventCount, checkGenerateOptions, generateLog, POOL_LABEL } from "../src/generate.ts";
import { createPrng } from "../src/prng.ts";

const small = { nodes: 7, routes: 30, events: 400, seed: 42 } as const;

describe("createPrng", () => {
  it("repeats for a seed and differs between seeds", () => {
    const a = createPrng(5);
    const b = createPrng(5);
    const c = createPrng(6);
    const xs = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(xs);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });

  it("spreads int() over its range", () => {
    const prng = createPrng(1);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[prng.int(4)]! += 1;
    for (const count of counts) expect(count).toBeGreaterThan(850);
  });
});

describe("generateLog", () => {
  it("gives identical bytes for identical arguments, other bytes for another seed", () => {
    const one = [...generateLog(small)].join("\n");
    expect([...generateLog(small)].join("\n")).toBe(one);
    expect([...generateLog({ ...small, seed: 43 })].join("\n")).not.toBe(one);
  });

  it("writes exactly the requested number of events, with increasing seq and valid envelopes", () => {
    const events = [...generateLog(small)].map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(events).toHaveLength(small.events);
    events.forEach((event, i) => {
      expect(event.v).toBe(1);
      expect(event.seq).toBe(i + 1);
      expect(Number.isNaN(Date.parse(String(event.at)))).toBe(false);
    });
  });

  it("introduces every node (labels, host facts) before any event about it, and every Route selects a pool", () => {
    const events = [...generateLog(small)].map((line) => JSON.parse(line) as Record<string, unknown>);
    const hosted = new Set<string>();
    const kinds = new Set<string>();
    for (const event of events) {
      kinds.add(String(event.type));
      if (event.type === "host/observed") hosted.add(String(event.node));
      else if (typeof event.node === "string" && event.type !== "node/observed")
        expect(hosted.has(event.node)).toBe(true);
      if (event.type === "route/upserted") {
        const spec = (
          event.route as {
            spec: { nodeSelector: { nodeSelectorTerms: { matchExpressions: { key: string }[] }[] } };
          }
        ).spec;
        expect(spec.nodeSelector.nodeSelectorTerms[0]?.matchExpressions[0]?.key).toBe(POOL_LABEL);
      }
    }
    expect(hosted.size).toBe(small.nodes);
    // Churn of every kind shows up in a few hundred events.
    for (const kind of ["probe/result", "route/upserted", "node/observed", "host/observed"])
      expect(kinds).toContain(kind);
  });

  it("refuses arguments it cannot honour, naming the flag", () => {
    expect(checkGenerateOptions({ ...small, events: bootstrapEventCount(small) - 1 })).toMatch(/--events/);
    expect(checkGenerateOptions({ ...small, nodes: 0 })).toMatch(/--nodes/);
    expect(checkGenerateOptions({ ...small, pools: 8 })).toMatch(/--pools/);
    expect(() => [...generateLog({ ...small, seed: -1 })]).toThrow(/--seed/);
  });
});
