/**
 * V8's heap sizing for replays. A replay allocates fast and keeps a steady live set
 * (about 0.7 GB at 1,000 nodes in scripts/bench/sim-scale.ts). By default V8 lets the
 * old generation grow to several times the live set between full collections, and
 * resident memory peaked at 2,964 MiB there. Bounding the growth to 1.3x the live set
 * keeps the heap in proportion to what is live, with no fixed limit a big log could
 * run into: 1,837 MiB peak at 7,028 node-events/s, against 2,036 MiB at 7,651 with
 * 1.5x (the same bench, one run each), so this trades 8% of throughput for margin
 * under the 2 GiB the bench asks for. Since nodes share their Route index versions
 * (core shared-routes.ts) the same bench peaks at 1,469 MiB (3,983 node-events/s, on
 * a slower day of the same machine). The flag is the process's, so it bounds every
 * thread of a parallel replay (parallel-replay.ts); on two threads the bench peaks at
 * 1,789-1,887 MiB (three runs), and at 1,958, 1,989 and 1,853 MiB in three later runs: a lower
 * bound here buys margin at some cost in throughput.
 *
 * Set at run time because the flag is not accepted in NODE_OPTIONS, and only the
 * CLI calls it: a library must not retune its embedder's heap.
 */
import { setFlagsFromString } from "node:v8";

export function boundHeapGrowth(): void {
  setFlagsFromString("--heap-growing-percent=30");
}

/**
 * The young generation of each replay thread (parallel-replay.ts), in MiB: two
 * semi-spaces of 32 MiB and the new large-object space beside them, as V8 sizes it
 * from this limit. V8 gave a replay thread semi-spaces of 64 MiB (a young generation
 * of 128 MiB resident once churn had filled it): replaying 500 nodes of a sim-scale
 * log on one thread (20,000 events), three runs side by side, resident memory peaked
 * at 743 MiB with V8's sizes, 651 with 32 MiB semi-spaces and 610 with 16, in
 * 218.7 s, 216.8 s and 238.3 s. So 32 costs no time and keeps 90 MiB a thread off
 * the peak; 16 keeps 40 more at 10% of the time. A limit of a thread the replay
 * starts, so it applies where it is set: the CLI's own thread keeps V8's sizes.
 */
export const REPLAY_YOUNG_GENERATION_MIB = 96;
