/**
 * How far V8 lets the heap grow beyond what is live before a full collection. Its
 * default (up to several times the live set) suits short bursty programs; the agent
 * is a long-lived DaemonSet process whose initial sync of a large table allocates
 * fast, so with the default its resident memory peaked at 265–290 MiB for 10,000
 * destinations, most of it garbage; with growth bounded to 1.2x the live set,
 * 204–233 MiB in three runs, with the sync no slower (`pnpm bench agent-memory`).
 *
 * Set at run time because NODE_OPTIONS does not accept this flag, and here rather
 * than in the chart so that every way of starting the agent gets it.
 */
import { setFlagsFromString } from "node:v8";

export function boundHeapGrowth(): void {
  setFlagsFromString("--heap-growing-percent=20");
}
