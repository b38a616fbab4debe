import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { idleCollector } from "../../src/runtime/idle-gc.ts";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("idleCollector", () => {
  it("collects once the agent is quiet after the heap grew, and not again until it grows again", () => {
    let heap = 100;
    const gc = vi.fn(() => {
      heap = 110;
    });
    const collector = idleCollector({ quietMs: 1000, minGrowthBytes: 50, gc, heapUsed: () => heap });
    heap = 200;
    collector.activity();
    vi.advanceTimersByTime(600);
    collector.activity(); // still busy: the quiet period restarts
    vi.advanceTimersByTime(600);
    expect(gc).not.toHaveBeenCalled();
    vi.advanceTimersByTime(500);
    expect(gc).toHaveBeenCalledTimes(1);

    heap = 150; // grew by 40 since the collection: below the threshold
    collector.activity();
    vi.advanceTimersByTime(2000);
    expect(gc).toHaveBeenCalledTimes(1);
    collector.stop();
  });

  it("hands freed memory back to the kernel after each collection, and only then", () => {
    let heap = 0;
    const calls: string[] = [];
    const collector = idleCollector({
      quietMs: 10,
      minGrowthBytes: 50,
      gc: () => calls.push("gc"),
      releaseFreeMemory: () => calls.push("release"),
      heapUsed: () => heap,
    });
    collector.activity();
    vi.advanceTimersByTime(100);
    expect(calls).toEqual([]);
    heap = 100;
    collector.activity();
    vi.advanceTimersByTime(100);
    expect(calls).toEqual(["gc", "release"]);
    collector.stop();
  });

  it("never collects when the heap did not grow", () => {
    const gc = vi.fn();
    const collector = idleCollector({ quietMs: 10, minGrowthBytes: 1, gc, heapUsed: () => 5 });
    collector.activity();
    vi.advanceTimersByTime(100);
    expect(gc).not.toHaveBeenCalled();
  });
});
