/**
 * V8's heap sizing for replays. A replay allocates fast and keeps a steady live set
 * (about 0.7 GB at 1,000 nodes in scripts/bench/sim-scale.ts). By default V8 lets the
 * old generation grow to several times the live set between full collections, so
 * resident memory ended at four times the live heap (2.96 GiB peak there). A growth
 * factor of 1.5 keeps the heap in proportion to what is live, with no fixed limit a
 * big log could run into, and cost nothing measurable: the 100-node slice of that
 * log replayed at 1,628 node-events/s with V8's default and 1,618 with this, peak RSS
 * 1,000 and 608 MiB.
 *
 * Set at run time because the flag is not accepted in NODE_OPTIONS, and only the
 * CLI calls it: a library must not retune its embedder's heap.
 */
import { setFlagsFromString } from "node:v8";

export function boundHeapGrowth(): void {
  setFlagsFromString("--heap-growing-percent=50");
}
