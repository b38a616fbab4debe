/**
 * The agent's own NodeRouteTable, and only it (field selector metadata.name=NODE, as the
 * agent watches its own Node), as what its writer needs to know: whether the table is
 * there, and which Nodes own it. Without this the writer learnt that the table was gone
 * only at its next write: a table deleted by hand (or by the garbage collector, acting
 * on a Node uid the agent had just written over) stayed gone on a quiet node until its
 * next change, or the sync-time refresh minutes later.
 *
 * Nothing else of the table is passed on. Its status is the agent's own report, which an
 * operator changes only on purpose; and telling the agent's own writes from others' by
 * comparing the status the API server renders with what was written would rewrite it
 * for ever wherever the two differ for reasons the agent cannot change (defaulting,
 * pruning, number formats).
 */

import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { Observable } from "rxjs";
import { type SupervisorOptions, superviseListWatch } from "./list-watch.ts";

interface KubeNodeRouteTable {
  readonly metadata?: {
    readonly name?: string;
    readonly resourceVersion?: string;
    readonly ownerReferences?: readonly {
      readonly kind?: string;
      readonly name?: string;
      readonly uid?: string;
    }[];
  };
}

/** The table as its writer sees it: gone, or there with the uids of the Nodes of its name that own it. */
export type OwnTableObservation =
  | { readonly present: false }
  | { readonly present: true; readonly nodeOwnerUids: readonly string[] };

export interface OwnNodeRouteTableWatchOptions extends SupervisorOptions {
  readonly group: string;
  readonly version: string;
}

export function watchOwnNodeRouteTable(
  kc: KubeConfig,
  nodeName: string,
  options: OwnNodeRouteTableWatchOptions,
): Observable<OwnTableObservation> {
  if (nodeName === "") throw new Error("watchOwnNodeRouteTable: nodeName is empty");
  const { group, version, ...supervisor } = options;
  const source = superviseListWatch<KubeNodeRouteTable>(
    kc,
    {
      name: "node-route-table",
      path: `/apis/${group}/${version}/noderoutetables`,
      fieldSelector: `metadata.name=${nodeName}`,
    },
    supervisor,
  );
  const observation = (table: KubeNodeRouteTable | undefined): OwnTableObservation =>
    table === undefined
      ? { present: false }
      : {
          present: true,
          nodeOwnerUids: (table.metadata?.ownerReferences ?? []).flatMap((ref) =>
            ref.kind === "Node" && ref.name === nodeName && ref.uid !== undefined ? [ref.uid] : [],
          ),
        };
  const own = (table: KubeNodeRouteTable) => table.metadata?.name === nodeName;

  return new Observable<OwnTableObservation>((subscriber) => {
    const subscription = source.subscribe({
      next: (event) => {
        switch (event.type) {
          case "synced":
            // A relist is a snapshot: a table missing from it was deleted while no watch was open.
            subscriber.next(observation(event.items.find(own)));
            return;
          case "added":
          case "modified":
            if (own(event.object)) subscriber.next(observation(event.object));
            return;
          case "deleted":
            if (own(event.object)) subscriber.next({ present: false });
            return;
        }
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    return () => subscription.unsubscribe();
  });
}
