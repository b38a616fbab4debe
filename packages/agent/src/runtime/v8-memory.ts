/**
 * V8 settings for a long-lived DaemonSet process on every node, where memory counts
 * for more than peak speed. Set at run time because NODE_OPTIONS refuses both flags,
 * and here rather than in the chart so that every way of starting the agent gets them.
 *
 * - `--heap-growing-percent=20`: how far the heap may grow beyond what is live before
 *   a full collection. V8's default (up to several times the live set) suits short
 *   bursty programs; the agent's initial sync of a large table allocates fast, and
 *   with the default its resident memory peaked at 265–290 MiB for 10,000
 *   destinations, most of it garbage; bounded to 1.2x, 204–233 MiB (run from sources,
 *   `pnpm bench agent-memory`), with the sync no slower.
 * - `--optimize-for-size`: V8 favours memory over speed (smaller heap reservations,
 *   code flushed sooner). Measured on the bundled agent with 10,000 destinations:
 *   about 137 MiB while programming them instead of 155–180, at 15–25% more CPU per
 *   Route change in the core (`pnpm bench core-scale` under the flag: 435 µs against
 *   346 µs with 10,000 Routes), which a probe-driven failover does not notice.
 *
 * Interpreter-only execution (`--no-opt --no-maglev`) would save some 20 MiB more, at
 * three to four times the CPU per Route change; not taken.
 */
import { setFlagsFromString } from "node:v8";

export function favourMemoryOverSpeed(): void {
  setFlagsFromString("--heap-growing-percent=20");
  setFlagsFromString("--optimize-for-size");
}
