/**
 * Where the agent reports what the engine concluded: Route status, the node's
 * NodeRouteTable, Kubernetes Events. Each sink gets the latest desired table (at most
 * every report interval) and decides itself what changed and what to write.
 */
import type { DesiredTable, NodeState } from "@kroute/core";

export interface StatusSink {
  /** `lastSync`: when the kernel was last known to hold the desired table (kernel-sync.ts), if ever. */
  update(table: DesiredTable, state: NodeState, lastSync: string | undefined): void;
}
