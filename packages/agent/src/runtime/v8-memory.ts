/**
 * V8 settings for a long-lived DaemonSet process on every node, where memory counts
 * for more than peak speed. Set at run time because NODE_OPTIONS refuses all of them,
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
 * - `--no-maglev --no-opt`, unless --optimizing-compilers: bytecode and Sparkplug's
 *   baseline code only. Optimizing compiles page in much of the compilers' own
 *   machine code and allocate zones on V8's worker thread. Measured on the bundle
 *   with 10,000 destinations (two single runs each, 2026-12-02): programmed/idle
 *   92–95/86 MiB against 117–124/95, peak 110–116 against 138–143; the initial sync
 *   takes 4.6–4.9 s instead of 3.7–3.8; a Route change with 10,000 Routes in the core
 *   1.3–1.5 ms instead of 0.55–0.66 (`node --no-opt --no-maglev --optimize-for-size
 *   scripts/bench.ts core-scale`). Probe-driven failover is bound by the probes.
 */
import { setFlagsFromString } from "node:v8";

export function favourMemoryOverSpeed(options: { readonly optimizingCompilers: boolean }): void {
  setFlagsFromString("--heap-growing-percent=20");
  setFlagsFromString("--optimize-for-size");
  if (!options.optimizingCompilers) {
    setFlagsFromString("--no-maglev");
    setFlagsFromString("--no-opt");
  }
}
