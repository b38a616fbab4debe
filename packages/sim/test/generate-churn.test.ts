/**
 * `generate` churns what a cluster churns: nodes relabelled into another pool and
 * Routes deleted, not only probes and upserts; and such a log still replays cleanly,
 * every node ending with the Routes of the pool it was last moved to.
 */
import { describe, expect, it } from "vitest";
import { generateLog, POOL_LABEL } from "../src/generate.ts";
import { generated, json, replay } from "./helpers.ts";

const options = { nodes: 6, routes: 24, events: 4000, seed: 9, pools: 3 } as const;

interface Line {
  type: string;
  seq: number;
  node?: string;
  labels?: Record<string, string>;
  name?: string;
  route?: { metadata: { name: string } };
  routes?: { metadata: { name: string } }[];
}

const lines = [...generateLog(options)].map((l) => JSON.parse(l) as Line);

/** The pool a generated gateway belongs to: 10.114.255.(pool*4+k+1), fd00:114::ff:(same, hex). */
function poolOfGateway(gateway: string): number {
  const last = gateway.includes(":")
    ? Number.parseInt(gateway.split(":").at(-1) as string, 16)
    : Number(gateway.split(".").at(-1));
  return Math.floor((last - 1) / 4);
}

describe("generate: label moves and Route deletions", () => {
  it("moves nodes between pools with node/observed label changes", () => {
    const pool = new Map<string, string>();
    const moves: { node: string; from: string; to: string }[] = [];
    for (const line of lines) {
      if (line.type !== "node/observed") continue;
      const node = line.node as string;
      const to = line.labels?.[POOL_LABEL] as string;
      expect(to).toMatch(/^pool-0[0-2]$/);
      const from = pool.get(node);
      // A relabel into the pool the node is in already would be no move.
      if (from !== undefined)
        expect(to, `seq ${line.seq} "moves" ${node} into ${to}, its pool`).not.toBe(from);
      if (from !== undefined) moves.push({ node, from, to });
      pool.set(node, to);
    }
    expect(moves.length).toBeGreaterThanOrEqual(20);
    // Every node moves, and into every other pool.
    expect(new Set(moves.map((m) => m.node)).size).toBe(options.nodes);
    expect(new Set(moves.map((m) => `${m.from}>${m.to}`)).size).toBe(6);
  });

  it("moves no node with a single pool, where there is nowhere to move to", () => {
    const single = [...generateLog({ ...options, pools: 1 })].map((l) => JSON.parse(l) as Line);
    const relabels = single.filter((l) => l.type === "node/observed").length;
    expect(relabels).toBe(options.nodes);
  });

  it("deletes Routes that exist, by name, and never upserts a deleted one again (new Routes get new names)", () => {
    const live = new Set<string>();
    const gone = new Set<string>();
    let deleted = 0;
    for (const line of lines) {
      if (line.type === "route/resynced") for (const r of line.routes ?? []) live.add(r.metadata.name);
      if (line.type === "route/upserted") {
        const name = line.route?.metadata.name as string;
        expect(gone.has(name), `seq ${line.seq} upserts deleted ${name}`).toBe(false);
        live.add(name);
      }
      if (line.type === "route/deleted") {
        expect(live.has(line.name as string), `seq ${line.seq} deletes ${line.name}`).toBe(true);
        live.delete(line.name as string);
        gone.add(line.name as string);
        deleted++;
      }
    }
    expect(deleted).toBeGreaterThanOrEqual(10);
  });

  it("replays without a violation, every node holding only its last pool's Routes", () => {
    const { results } = replay(generated(options));
    const doc = json(results);
    expect(Object.keys(doc.nodes)).toHaveLength(options.nodes);
    const lastPool = new Map<string, number>();
    for (const line of lines)
      if (line.type === "node/observed")
        lastPool.set(line.node as string, Number(line.labels?.[POOL_LABEL]?.slice("pool-".length)));
    for (const [node, { routes, violations }] of Object.entries(doc.nodes)) {
      expect(violations).toEqual([]);
      expect(routes.length).toBeGreaterThan(0);
      for (const route of routes)
        for (const gateway of route.gateways)
          expect(poolOfGateway(gateway), `${node} ${route.dst}`).toBe(lastPool.get(node));
    }
  });
});
