/**
 * `pnpm bench failover`: how long a dead gateway keeps receiving traffic. kroute
 * (the agent runtime: rtnetlink driver, core engine, ICMP health tracker) runs in the node namespace of a
 * four-gateway topology; a trial drops all traffic at one gateway (nftables, its link
 * staying up) and times until the kernel's route no longer lists that gateway, then
 * recovers it and waits for its return. The clock starts when `nft` has returned
 * (the drop is in force; it took effect a little earlier, inside that command), and
 * stops when a dump of the node's kernel (a second rtnetlink socket, polled every
 * 5 ms: cheaper than spawning `ip` and so not slowing kroute down) shows the route's
 * nexthop group without the gateway.
 *
 * Two settings in the same run: the production defaults (interval 1 s, timeout 1 s,
 * fall 3, rise 2) and the fast preset (100 ms, 100 ms, fall 2, rise 2). Target: fast
 * p99 under 1 s. The kernel alone, as the peer, is checked once: with the link up
 * and neighbour entries valid it keeps using the dead gateway indefinitely.
 *
 * KROUTE_BENCH_TRIALS (default 20) trials per setting. Ends with one JSON line.
 */

import { FAST_PROBE_SETTINGS, PRODUCTION_PROBE_SETTINGS } from "../../packages/agent/src/health/presets.ts";
import type { ProbeSettings } from "../../packages/agent/src/settings.ts";
import {
  probeFlags,
  routeObject,
  startAgentInNetns,
} from "../../packages/agent/test/health/agent-in-netns.ts";
import { routeGateways, waitUntil } from "../../packages/agent/test/health/kernel-view.ts";
import type { Dataplane, IpAddr, Prefix } from "../../packages/core/src/index.ts";
import { createNetlinkDataplane } from "../../packages/driver-netlink/src/index.ts";
import { createTopology, type Topology } from "../../packages/lab/src/topology.ts";
import { percentile } from "./lib/stats.ts";

const TRIALS = Number(process.env.KROUTE_BENCH_TRIALS ?? 20);
if (!Number.isInteger(TRIALS) || TRIALS < 1)
  throw new Error(`KROUTE_BENCH_TRIALS must be a positive integer, got ${process.env.KROUTE_BENCH_TRIALS}`);
const POLL_MS = 5;

/** The gateways the kernel's route to `prefix` uses, from one dump (nexthop group, multipath or single). */
async function kernelGateways(dataplane: Dataplane, prefix: Prefix): Promise<IpAddr[]> {
  const snapshot = await dataplane.list({ families: [4] });
  const route = snapshot.routes.find((r) => r.dst === prefix);
  if (route === undefined) return [];
  switch (route.target.kind) {
    case "gateways":
      return route.target.nexthops.map((n) => n.gateway);
    case "nexthop-object": {
      const byId = new Map(snapshot.nexthops.map((n) => [n.id, n]));
      const object = byId.get(route.target.id);
      if (object === undefined) return [];
      const members = object.kind === "group" ? object.members.map((m) => byId.get(m.id)) : [object];
      return members.flatMap((m) => (m?.kind === "gateway" ? [m.gateway] : []));
    }
    case "device":
    case "special":
      return [];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function trials(topology: Topology, settings: ProbeSettings, label: string): Promise<number[]> {
  const node = await startAgentInNetns(
    topology.node.name,
    [
      routeObject(
        `failover-${label}`,
        [topology.destinationV4],
        topology.gateways.map((g) => g.v4),
      ),
    ],
    probeFlags(settings),
  );
  const observer = await createNetlinkDataplane({ netns: topology.node.name });
  const gateways = () => kernelGateways(observer, topology.destinationV4);
  const samples: number[] = [];
  try {
    await waitUntil("four gateways", async () => (await gateways()).length === 4, 15_000);
    for (let trial = 0; trial < TRIALS; trial++) {
      const victim = topology.gateways[trial % topology.gateways.length];
      if (victim === undefined) throw new Error("topology without gateways");
      // A trial starts right after a probe answered (that is how the gateway came
      // back): kill at a uniformly random phase of the probe interval instead.
      await sleep(Math.random() * settings.intervalMs);
      await topology.kill(victim.index);
      const ms = await waitUntil(
        `${victim.v4} to leave the route`,
        async () => !(await gateways()).includes(victim.v4),
        30_000,
        POLL_MS,
      );
      samples.push(ms);
      await topology.recover(victim.index);
      await waitUntil(
        `${victim.v4} to return`,
        async () => (await gateways()).includes(victim.v4),
        30_000,
        POLL_MS,
      );
      console.log(`${label} trial ${trial + 1}/${TRIALS}: gw${victim.index} out after ${ms.toFixed(0)} ms`);
    }
  } finally {
    await node.stop();
    await observer.close();
  }
  return samples;
}

/** The peer: a plain multipath route with no prober. Does the kernel ever drop the dead gateway? */
async function kernelAlone(topology: Topology, watchMs: number): Promise<boolean> {
  const hops = topology.gateways.flatMap((g) => ["nexthop", "via", g.v4]);
  await topology.node.ip("route", "replace", "203.0.113.128/25", ...hops);
  const victim = topology.gateways[0] as { index: number; v4: IpAddr };
  await topology.kill(victim.index);
  await sleep(watchMs);
  const still = (await routeGateways(topology.node, "203.0.113.128/25")).includes(victim.v4);
  await topology.recover(victim.index);
  await topology.node.ip("route", "del", "203.0.113.128/25");
  return still;
}

const topology = await createTopology();
try {
  const kernelKeepsDead = await kernelAlone(topology, 5000);
  console.log(
    `kernel alone (no kroute): dead gateway ${kernelKeepsDead ? "still in the route" : "removed"} after 5 s`,
  );
  const fast = await trials(topology, FAST_PROBE_SETTINGS, "fast");
  const production = await trials(topology, PRODUCTION_PROBE_SETTINGS, "default");
  console.log(
    JSON.stringify({
      bench: "failover",
      trials: TRIALS,
      default_p50_ms: Math.round(percentile(production, 50)),
      default_p99_ms: Math.round(percentile(production, 99)),
      fast_p50_ms: Math.round(percentile(fast, 50)),
      fast_p99_ms: Math.round(percentile(fast, 99)),
    }),
  );
} finally {
  await topology.destroy();
}
