import type { IpAddr } from "@kroute/core";
import { map, type Observable, take, timer } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import type { ProbeOutcome } from "../../src/health/debounce.ts";
import { FAST_PROBE_SETTINGS, PRODUCTION_PROBE_SETTINGS } from "../../src/health/presets.ts";
import { type ProbeFn, type ProbeResultBody, trackGatewayHealth } from "../../src/health/tracker.ts";

const A = "192.0.2.11" as IpAddr;
const B = "192.0.2.12" as IpAddr;
const C = "2001:db8::1" as IpAddr;

/**
 * A fake network on virtual time: `alive(gateway, now)` says whether a probe sent at
 * `now` is answered (after 1 ms) or lost (known after the timeout). Records every probe.
 */
function fakeNetwork(scheduler: TestScheduler, alive: (gateway: IpAddr, now: number) => boolean) {
  const sent: { gateway: IpAddr; at: number }[] = [];
  const probe: ProbeFn = (gateway, timeoutMs): Observable<ProbeOutcome> => {
    const now = scheduler.now();
    sent.push({ gateway, at: now });
    return alive(gateway, now)
      ? timer(1, scheduler).pipe(map(() => ({ ok: true as const, rttMs: 1 })))
      : timer(timeoutMs, scheduler).pipe(map(() => ({ ok: false as const, reason: "timeout" })));
  };
  return { probe, sent };
}

/**
 * The events before `untilMs`. Virtual time stops there instead of unsubscribing: the
 * TestScheduler nests every reschedule of a periodic timer in the one before, so
 * tearing down 6,000 probes recurses 6,000 deep and can overflow the stack (the
 * production asyncScheduler reuses one action and has no such chain).
 */
function collect(scheduler: TestScheduler, source: Observable<ProbeResultBody>, untilMs: number) {
  const events: (ProbeResultBody & { at: number })[] = [];
  source.subscribe((e) => events.push({ ...e, at: scheduler.now() }));
  scheduler.maxFrames = untilMs - 1;
  scheduler.flush();
  return events;
}

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe("gateway health tracker", () => {
  it("marks a dead gateway down after `fall` lost probes and up again after `rise` answers", () => {
    const scheduler = newScheduler();
    // A dies at 10 s and recovers at 20 s.
    const net = fakeNetwork(scheduler, (g, now) => g !== A || now < 10_000 || now >= 20_000);
    const gateways$ = scheduler.createColdObservable<readonly IpAddr[]>("a", { a: [A, B] });
    const events = collect(
      scheduler,
      trackGatewayHealth(gateways$, {
        node: "n1",
        settings: PRODUCTION_PROBE_SETTINGS,
        probe: net.probe,
        scheduler,
      }),
      30_000,
    );
    const changes = events.filter((e) => e.gateway === A).map((e) => ({ at: e.at, up: e.up }));
    // Up after the 2nd answer (sent at 1 s, back at 1.001 s); refreshes every 10 s;
    // probes sent at 10, 11, 12 s are lost, the 3rd known at 13 s; answers sent at 20 and 21 s.
    expect(changes).toEqual([
      { at: 1001, up: true },
      { at: 13_000, up: false },
      { at: 21_001, up: true },
    ]);
    expect(events.find((e) => e.gateway === A && !e.up)).toEqual({
      type: "probe/result",
      node: "n1",
      gateway: A,
      up: false,
      at: 13_000,
    });
    expect(events.find((e) => e.gateway === B)).toMatchObject({ type: "probe/result", up: true, rttMs: 1 });
  });

  it("fails over in under 0.3 s with the fast settings", () => {
    const scheduler = newScheduler();
    const diesAt = 5_050;
    const net = fakeNetwork(scheduler, (_g, now) => now < diesAt);
    const gateways$ = scheduler.createColdObservable<readonly IpAddr[]>("a", { a: [A] });
    const events = collect(
      scheduler,
      trackGatewayHealth(gateways$, {
        node: "n1",
        settings: FAST_PROBE_SETTINGS,
        probe: net.probe,
        scheduler,
      }),
      10_000,
    );
    const down = events.find((e) => !e.up);
    expect(down).toBeDefined();
    expect(down!.at - diesAt).toBeLessThan(300);
    expect(down!.at - diesAt).toBeGreaterThan(0);
  });

  it("keeps the event log small: a steady gateway probed at 10 Hz for 10 minutes makes a few dozen events", () => {
    const scheduler = newScheduler();
    const net = fakeNetwork(scheduler, () => true);
    const gateways$ = scheduler.createColdObservable<readonly IpAddr[]>("a", { a: [A] });
    const events = collect(
      scheduler,
      trackGatewayHealth(gateways$, {
        node: "n1",
        settings: FAST_PROBE_SETTINGS,
        probe: net.probe,
        scheduler,
      }),
      600_000,
    );
    expect(net.sent.length).toBeGreaterThanOrEqual(5999);
    // One "up" and one RTT refresh every 10 s.
    expect(events.length).toBe(60);
    expect(events.every((e) => e.up && e.rttMs === 1)).toBe(true);
  });

  it("probes each distinct gateway once, follows the gateway set, and restarts a returning gateway from unknown", () => {
    const scheduler = newScheduler();
    const net = fakeNetwork(scheduler, () => true);
    // t=0: A, A (two Routes share it), B; t=5 s: B, C; t=10 s: A, B.
    const lists: (readonly IpAddr[])[] = [
      [A, A, B],
      [B, C],
      [A, B],
    ];
    const gateways$ = timer(0, 5000, scheduler).pipe(
      take(lists.length),
      map((i) => lists[i] ?? []),
    );
    const settings = { intervalMs: 1000, timeoutMs: 500, fall: 2, rise: 2 };
    const events = collect(
      scheduler,
      trackGatewayHealth(gateways$, {
        node: "n1",
        settings,
        probe: net.probe,
        scheduler,
        rttRefreshMs: 60_000,
      }),
      15_000,
    );
    const probesOf = (g: IpAddr) => net.sent.filter((s) => s.gateway === g).map((s) => s.at);
    expect(probesOf(A)).toEqual([0, 1000, 2000, 3000, 4000, 10_000, 11_000, 12_000, 13_000, 14_000]);
    expect(probesOf(B)).toEqual([
      0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000, 11_000, 12_000, 13_000, 14_000,
    ]);
    expect(probesOf(C)).toEqual([5000, 6000, 7000, 8000, 9000]);
    // A reported up twice: once per life; B once (its prober never restarted).
    expect(events.map((e) => `${e.gateway}@${e.at}`)).toEqual([
      `${A}@1001`,
      `${B}@1001`,
      `${C}@6001`,
      `${A}@11001`,
    ]);
  });

  it("counts a prober that throws as a failed probe instead of dying, and says why", () => {
    const scheduler = newScheduler();
    const gateways$ = scheduler.createColdObservable<readonly IpAddr[]>("a", { a: [A] });
    const probe: ProbeFn = () => {
      throw new Error("socket: EPERM");
    };
    const errors: string[] = [];
    const events = collect(
      scheduler,
      trackGatewayHealth(gateways$, {
        node: "n1",
        settings: PRODUCTION_PROBE_SETTINGS,
        probe,
        scheduler,
        onProbeError: (gateway, error) => errors.push(`${gateway}: ${String(error)}`),
      }),
      10_000,
    );
    expect(events).toEqual([{ type: "probe/result", node: "n1", gateway: A, up: false, at: 2000 }]);
    expect(errors.length).toBeGreaterThan(0);
    expect(new Set(errors)).toEqual(new Set([`${A}: Error: socket: EPERM`]));
  });

  it("refuses unusable settings, naming the field and value", () => {
    const gateways$ = newScheduler().createColdObservable<readonly IpAddr[]>("a", { a: [A] });
    const probe: ProbeFn = () => [];
    expect(() =>
      trackGatewayHealth(gateways$, { node: "n", settings: { ...FAST_PROBE_SETTINGS, fall: 0 }, probe }),
    ).toThrow("probe settings: fall must be a positive integer, got 0");
    expect(() =>
      trackGatewayHealth(gateways$, {
        node: "n",
        settings: { ...FAST_PROBE_SETTINGS, intervalMs: Number.NaN },
        probe,
      }),
    ).toThrow("probe settings: intervalMs must be a positive number, got NaN");
  });
});
