/**
 * The cluster in a box without root: the same scenario as engine events, replayed on
 * the in-memory kernels, with the egress view computed from the fake kernels' lookups
 * (the gateway a flow leaves through tells the source address the destination would see).
 */
import type { EngineEvent, IpAddr } from "@kroute/core";
import { renderText } from "../render.ts";
import { Replayer } from "../replay.ts";
import type { Timeline } from "../timeline.ts";
import type { Scenario } from "./scenario.ts";
import { scenarioEvents } from "./scenario.ts";
import { DESTINATIONS, EGRESS_FLOWS, egressLine, header, type Print } from "./story.ts";
import { ECHO_PORT } from "./topology.ts";

function seenSource(s: Scenario, node: string, gateway: string | undefined): string {
  const index = gateway === undefined ? -1 : s.gateways.indexOf(gateway);
  if (index >= 0) return `198.18.${index + 1}.1`;
  return s.nodes.find((n) => n.name === node)?.address ?? "?";
}

/** Returns the number of invariant violations. */
export function runOnFakeKernels(s: Scenario, print: Print, timeline: Timeline): number {
  const replayer = new Replayer({ timeline });
  const push = (events: readonly EngineEvent[]): void => {
    for (const event of events) replayer.push(event);
  };
  const tables = (): void => {
    const results = [...replayer.nodes.values()].map((sim) => ({
      node: sim.name,
      snapshot: sim.snapshot(),
      violations: sim.violations,
    }));
    for (const line of renderText(results)) print(line);
  };
  const egress = (): void => {
    for (const node of s.nodes) {
      const sim = replayer.nodes.get(node.name);
      for (const destination of DESTINATIONS) {
        const via: Record<string, number> = {};
        for (let port = 0; port < EGRESS_FLOWS; port++) {
          const answer = sim?.lookup({
            // An unbound socket: the route is chosen before a source address is (so no reply rule applies).
            dst: destination as IpAddr,
            ipProto: 17,
            sport: 20000 + port,
            dport: ECHO_PORT,
          });
          const seen = seenSource(s, node.name, answer?.ok === true ? answer.gateway : undefined);
          via[seen] = (via[seen] ?? 0) + 1;
        }
        print(egressLine(s, node.name, destination, via, EGRESS_FLOWS));
      }
    }
    print("");
  };
  const events = scenarioEvents(s);
  // Why there are no namespaces (not root, --fake, none to be had) is said on stderr.
  header(s, "fake kernels: the same scenario replayed through the core and the in-memory kernel", print);
  print("## 1. Routes applied; every gateway answers its probes");
  push(events.setup);
  tables();
  print("## 2. Static egress IP: the source address each destination would see (8 UDP flows each)");
  egress();
  print(`## 3. gw-1 (${s.gateways[0]}) stops answering: its probes fail on every node`);
  push(events.fail);
  tables();
  egress();
  print("## 4. gw-1 answers again");
  push(events.recover);
  tables();
  replayer.finish();
  return [...replayer.nodes.values()].reduce((n, sim) => n + sim.violations.length, 0);
}
