/**
 * A full garbage collection once the agent has been quiet for a while after a burst
 * of work (the initial sync of a large table, a mass Route change). V8 collects its
 * old generation only under allocation pressure, so without this the garbage of a
 * burst stays resident while the agent idles; one collection returns it.
 *
 * It runs only when the heap grew by `minGrowthBytes` since the last collection, so
 * a quiet agent never pays for it.
 */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

export interface IdleCollector {
  /** Something happened: the quiet period starts again. */
  activity(): void;
  stop(): void;
}

function exposeGc(): (() => void) | undefined {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing !== undefined) return existing;
  setFlagsFromString("--expose-gc");
  const gc: unknown = runInNewContext("gc");
  return typeof gc === "function" ? (gc as () => void) : undefined;
}

export interface IdleCollectorOptions {
  readonly quietMs: number;
  readonly minGrowthBytes: number;
  /** Injected in tests; default V8's own. */
  readonly gc?: () => void;
  /** After a collection: hand the memory freed outside V8's heap back to the kernel (malloc_trim). */
  readonly releaseFreeMemory?: () => void;
  readonly heapUsed?: () => number;
}

export function idleCollector(options: IdleCollectorOptions): IdleCollector {
  const gc = options.gc ?? exposeGc();
  const heapUsed = options.heapUsed ?? (() => getHeapStatistics().used_heap_size);
  let baseline = heapUsed();
  let timer: NodeJS.Timeout | undefined;
  const collectIfGrown = () => {
    timer = undefined;
    if (gc === undefined || heapUsed() - baseline < options.minGrowthBytes) return;
    gc();
    options.releaseFreeMemory?.();
    baseline = heapUsed();
  };
  return {
    activity() {
      if (timer !== undefined) timer.refresh();
      else {
        timer = setTimeout(collectIfGrown, options.quietMs);
        timer.unref();
      }
    },
    stop() {
      clearTimeout(timer);
    },
  };
}
