/**
 * `pnpm bench flow-disruption`: how many flows change gateway when one of four
 * gateways dies, and again when it comes back. 4,000 UDP flows (distinct source
 * ports) are looked up with `ip route get ... ipproto udp sport N dport 7` (one
 * `ip -batch` per pass) in the node namespace before the gateway dies, after kroute
 * has taken it out, and after kroute has put it back.
 *
 * The same kroute agent (driver, core engine, ICMP health tracker with the fast preset, layer-4
 * multipath hash) runs twice on a fresh topology: once writing plain multipath routes
 * (the peer: what kernels without nexthop objects get, and what other route agents
 * write), once with its default, a shared resilient nexthop group.
 * Targets for kroute: at most 26% of flows move on failure (the dead gateway's
 * quarter), at most 1% on recovery.
 *
 * Which flows a gateway carries depends on the namespace's random multipath hash seed
 * and on which gateway dies, so one trial's share of 4,000 flows swings by a point or
 * two around 25%. Each mode runs KROUTE_BENCH_TRIALS (default 5) trials on fresh
 * topologies, the victim rotating over the gateways; the figures are medians.
 * Ends with one JSON line.
 */
import { FAST_PROBE_SETTINGS } from "../../packages/agent/src/health/presets.ts";
import {
  probeFlags,
  routeObject,
  startAgentInNetns,
} from "../../packages/agent/test/health/agent-in-netns.ts";
import { routeGateways, waitUntil } from "../../packages/agent/test/health/kernel-view.ts";
import type { Netns } from "../../packages/lab/src/netns.ts";
import { createTopology } from "../../packages/lab/src/topology.ts";
import { median } from "./lib/stats.ts";

const FLOWS = 4000;
const FIRST_PORT = 10_000;
const TRIALS = Number(process.env.KROUTE_BENCH_TRIALS ?? 5);
if (!Number.isInteger(TRIALS) || TRIALS < 1) {
  console.error(`KROUTE_BENCH_TRIALS must be a positive integer, got ${process.env.KROUTE_BENCH_TRIALS}`);
  process.exit(2);
}

/** The gateway each flow takes, by source port, from one `ip -batch` of route lookups. */
async function lookupFlows(ns: Netns, target: string, source: string): Promise<string[]> {
  const lines = Array.from(
    { length: FLOWS },
    (_, i) => `route get ${target} from ${source} ipproto udp sport ${FIRST_PORT + i} dport 7`,
  );
  const { stdout } = await ns.ipBatch(lines);
  const gateways = stdout
    .split("\n")
    .filter((line) => line.startsWith(target))
    .map((line) => /\bvia (\S+)/.exec(line)?.[1] ?? "direct");
  if (gateways.length !== FLOWS) throw new Error(`expected ${FLOWS} lookups, parsed ${gateways.length}`);
  return gateways;
}

function movedPct(before: readonly string[], after: readonly string[]): number {
  const moved = before.filter((gateway, i) => gateway !== after[i]).length;
  return Math.round((moved / before.length) * 10_000) / 100;
}

interface Disruption {
  readonly failMovedPct: number;
  readonly recoverMovedPct: number;
  /** Flows that moved on failure although their gateway was alive. */
  readonly needlessMoves: number;
  /** The share of flows the dead gateway carried before it died. */
  readonly victimSharePct: number;
}

async function measure(mode: "multipath" | "auto", trial: number): Promise<Disruption> {
  const topology = await createTopology();
  try {
    const node = await startAgentInNetns(
      topology.node.name,
      [
        routeObject(
          "egress",
          [topology.destinationV4],
          topology.gateways.map((g) => g.v4),
        ),
      ],
      [...probeFlags(FAST_PROBE_SETTINGS), ...(mode === "multipath" ? ["--nexthop-mode=multipath"] : [])],
    );
    const settings = node.agent.state().settings;
    try {
      const gateways = () => routeGateways(topology.node, topology.destinationV4);
      const victim = topology.gateways[trial % topology.gateways.length];
      if (victim === undefined) throw new Error("topology without gateways");
      await waitUntil("four gateways", async () => (await gateways()).length === 4, 15_000);
      const lookup = () => lookupFlows(topology.node, topology.targetV4, topology.nodeV4);

      const before = await lookup();
      await topology.kill(victim.index);
      await waitUntil(
        "the dead gateway to leave",
        async () => !(await gateways()).includes(victim.v4),
        15_000,
      );
      const after = await lookup();
      await topology.recover(victim.index);
      await waitUntil("the gateway to return", async () => (await gateways()).includes(victim.v4), 15_000);
      const recovered = await lookup();

      const result = {
        failMovedPct: movedPct(before, after),
        recoverMovedPct: movedPct(after, recovered),
        needlessMoves: before.filter((g, i) => g !== victim.v4 && g !== after[i]).length,
        victimSharePct: Math.round((before.filter((g) => g === victim.v4).length / FLOWS) * 10_000) / 100,
      };
      console.log(
        `trial ${trial + 1}/${TRIALS}, ${mode === "auto" ? `kroute (${settings.nexthopMode}${settings.resilient ? ", resilient" : ""})` : "plain multipath"}: ` +
          `dead gateway ${victim.v4} carried ${result.victimSharePct}% of flows; ${result.failMovedPct}% moved on failure ` +
          `(${result.needlessMoves} of them from live gateways), ${result.recoverMovedPct}% on recovery`,
      );
      return result;
    } finally {
      await node.stop();
    }
  } finally {
    await topology.destroy();
  }
}

const multipath: Disruption[] = [];
const kroute: Disruption[] = [];
for (let trial = 0; trial < TRIALS; trial++) {
  multipath.push(await measure("multipath", trial));
  kroute.push(await measure("auto", trial));
}
const med = (runs: readonly Disruption[], pick: (d: Disruption) => number): number => median(runs.map(pick));
console.log(
  JSON.stringify({
    bench: "flow-disruption",
    gateways: 4,
    flows: FLOWS,
    trials: TRIALS,
    multipath_fail_moved_pct: med(multipath, (d) => d.failMovedPct),
    multipath_recover_moved_pct: med(multipath, (d) => d.recoverMovedPct),
    kroute_fail_moved_pct: med(kroute, (d) => d.failMovedPct),
    kroute_recover_moved_pct: med(kroute, (d) => d.recoverMovedPct),
    kroute_victim_share_pct: med(kroute, (d) => d.victimSharePct),
    kroute_fail_moved_max_pct: Math.max(...kroute.map((d) => d.failMovedPct)),
    kroute_needless_moves_max: Math.max(...kroute.map((d) => d.needlessMoves)),
    kroute_recover_moved_max_pct: Math.max(...kroute.map((d) => d.recoverMovedPct)),
  }),
);
