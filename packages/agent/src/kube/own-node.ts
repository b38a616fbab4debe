/**
 * The agent's own Node, and only it (field selector metadata.name=NODE: watching every
 * Node from every node would cost the API server O(nodes²)), as `node/observed` events
 * whenever its labels change. Status heartbeats, which change nothing the engine reads,
 * are not forwarded. Its uid goes to `uidSeen`: the NodeRouteTable is owned by it, and a
 * Node registered again under the same name has a new one.
 */

import type { EventBody } from "@kroute/core";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { Observable } from "rxjs";
import { type SupervisorOptions, superviseListWatch } from "./list-watch.ts";

interface KubeNode {
  readonly metadata?: {
    readonly name?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
}

function labelsOf(node: KubeNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(node.metadata?.labels ?? {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    if (typeof v === "string") out[k] = v;
  }
  return out;
}

export function watchOwnNode(
  kc: KubeConfig,
  nodeName: string,
  options: SupervisorOptions = {},
  uidSeen: (uid: string) => void = () => {},
): Observable<EventBody> {
  if (nodeName === "")
    throw new Error("watchOwnNode: nodeName is empty (set NODE_NAME from the downward API)");
  const source = superviseListWatch<KubeNode>(
    kc,
    { name: "node", path: "/api/v1/nodes", fieldSelector: `metadata.name=${nodeName}` },
    options,
  );

  return new Observable<EventBody>((subscriber) => {
    let last: string | undefined;
    const observe = (node: KubeNode | undefined, forceEmit: boolean) => {
      if (node === undefined || node.metadata?.name !== nodeName) return;
      if (node.metadata.uid !== undefined) uidSeen(node.metadata.uid);
      const labels = labelsOf(node);
      const key = JSON.stringify(labels);
      if (!forceEmit && key === last) return;
      last = key;
      subscriber.next({ type: "node/observed", node: nodeName, labels });
    };
    const subscription = source.subscribe({
      next: (event) => {
        switch (event.type) {
          case "synced":
            // Every list re-states the node: a relist is a full snapshot for this source too.
            observe(
              event.items.find((n) => n.metadata?.name === nodeName),
              true,
            );
            return;
          case "added":
          case "modified":
            observe(event.object, false);
            return;
          case "deleted":
            // The engine has no "node gone" event; the DaemonSet pod goes with its node.
            last = undefined;
            return;
        }
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    return () => subscription.unsubscribe();
  });
}
