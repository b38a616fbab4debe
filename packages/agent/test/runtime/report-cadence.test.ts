import { describe, expect, it } from "vitest";
import { MAX_REPORT_DELAY_MS, reportCadence } from "../../src/runtime/report-cadence.ts";

describe("report cadence", () => {
  function clocked() {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  }

  it("reports a first step after the base interval", () => {
    const clock = clocked();
    expect(reportCadence(100, clock.now).delay()).toBe(100);
  });

  it("backs off to 20 times the last report's cost while steps keep coming", () => {
    const clock = clocked();
    const cadence = reportCadence(100, clock.now);
    const started = clock.now();
    clock.advance(50); // a 50 ms table build
    cadence.reported(started);
    clock.advance(1); // the next step of a large sync
    expect(cadence.delay()).toBe(1000);
  });

  it("is back at the base interval after a quiet spell longer than the back-off", () => {
    const clock = clocked();
    const cadence = reportCadence(100, clock.now);
    const started = clock.now();
    clock.advance(50);
    cadence.reported(started);
    clock.advance(1001); // a settled node; then a gateway goes down
    expect(cadence.delay()).toBe(100);
  });

  it("never waits longer than the cap, nor less than the base interval", () => {
    const clock = clocked();
    const cadence = reportCadence(100, clock.now);
    let started = clock.now();
    clock.advance(400);
    cadence.reported(started);
    expect(cadence.delay()).toBe(MAX_REPORT_DELAY_MS);
    started = clock.now();
    clock.advance(1);
    cadence.reported(started);
    expect(cadence.delay()).toBe(100);
  });
});
