/** Kubernetes Events on transitions only, deduplicated and throttled per subject. */
import type { IpAddr } from "@kroute/core";
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type DroppedEvent,
  EventRecorder,
  type EventRecorderOptions,
  MAX_DESTINATION_EVENTS,
  type Transition,
} from "../../src/kube/event-recorder.ts";
import type { Timers } from "../../src/kube/timing.ts";
import { destination, gateway, outcome, table } from "./fixtures.ts";
import { GROUP, startApi, until, VERSION } from "./support.ts";

interface RecordedEvent {
  reason: string;
  type: string;
  note: string;
  eventTime: string;
  regarding: { kind: string; name: string; apiVersion: string };
  related?: { kind: string; name: string };
  reportingController: string;
  reportingInstance: string;
}

/** Timers that move only when told: `advance` runs what falls due, in time order. */
function manualClock(): Timers & { advance(ms: number): void } {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  return {
    now: () => now,
    setTimeout: (fn, ms) => {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return timer;
    },
    clearTimeout: (handle) => {
      timers = timers.filter((t) => t !== handle);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (due === undefined) break;
        timers = timers.filter((t) => t !== due);
        now = due.at;
        due.fn();
      }
      now = until;
    },
  };
}

describe("EventRecorder", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  const errors: unknown[] = [];

  beforeEach(async () => {
    ({ api, kc } = await startApi());
    errors.length = 0;
  });
  afterEach(async () => {
    expect(errors).toEqual([]);
    await api.close();
  });

  const recorder = (extra: Partial<EventRecorderOptions> = {}) =>
    new EventRecorder({
      kc,
      nodeName: "n1",
      routeApiVersion: `${GROUP}/${VERSION}`,
      onError: (e) => errors.push(e),
      ...extra,
    });
  const events = () => api.list("Event", "default") as unknown as RecordedEvent[];
  const reasons = () =>
    events()
      .map((e) => e.reason)
      .sort();

  it("writes a gateway going down once, and its return once; a first-seen healthy gateway is no news", async () => {
    const r = recorder();
    r.record({ kind: "gateway-up", gateway: "10.0.0.2" });
    r.record({ kind: "gateway-down", gateway: "10.0.0.1", message: "3 probes lost" });
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    await r.settled();
    expect(events()).toHaveLength(1);
    const down = events()[0]!;
    expect(down).toMatchObject({
      reason: "GatewayDown",
      type: "Warning",
      regarding: { apiVersion: "v1", kind: "Node", name: "n1" },
      reportingController: "kroute.dev/agent",
      reportingInstance: "kroute-agent-n1",
    });
    expect(down.note).toContain("10.0.0.1");
    expect(down.eventTime).toMatch(/\.\d{6}Z$/); // MicroTime
    r.record({ kind: "gateway-up", gateway: "10.0.0.1", rttMs: 1.25 });
    r.record({ kind: "gateway-up", gateway: "10.0.0.1", rttMs: 1.3 });
    await r.settled();
    expect(reasons()).toEqual(["GatewayDown", "GatewayUp"]);
  });

  const creates = () => api.requests((r) => r.verb === "create" && r.resource === "events.k8s.io/v1/events");
  /** The reasons of the Events written, in the order they were created. */
  const writtenReasons = () =>
    creates()
      .filter((q) => q.status === 201)
      .map((q) => (q.body as { reason?: string }).reason);

  it("retries an Event the API server shed (429) no sooner than its Retry-After, as the same Event", async () => {
    const r = recorder({ backoff: { initialMs: 20, jitter: 0 } });
    api.faults.failNext(1, { status: 429, retryAfterSeconds: 1, match: (q) => q.verb === "create" });
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    await r.settled();
    expect(reasons()).toEqual(["GatewayDown"]);
    const [shed, written] = creates();
    expect([shed?.status, written?.status]).toEqual([429, 201]);
    expect(written!.at - shed!.at).toBeGreaterThanOrEqual(1000);
    // Its time is the transition's, before the first attempt.
    expect(Date.parse(events()[0]!.eventTime)).toBeLessThanOrEqual(shed!.at);
    expect(errors).toHaveLength(1);
    errors.length = 0;
  });

  it("writes a subject's Events in order: its GatewayUp waits for the retry of the GatewayDown the API server shed, so the history never shows it back up without showing it down", async () => {
    const r = recorder({ backoff: { initialMs: 20, jitter: 0 } });
    api.faults.failNext(1, { status: 503, retryAfterSeconds: 1, match: (q) => q.verb === "create" });
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    await until(() => creates().length === 1, "the shed write");
    r.record({ kind: "gateway-up", gateway: "10.0.0.1" });
    await r.settled();
    expect(creates().map((q) => q.status)).toEqual([503, 201, 201]);
    expect(writtenReasons()).toEqual(["GatewayDown", "GatewayUp"]);
    // Read by time, as kubectl shows them: down, then up, the last one the state it is in.
    expect(
      events()
        .sort((a, b) => a.eventTime.localeCompare(b.eventTime))
        .map((e) => e.reason),
    ).toEqual(["GatewayDown", "GatewayUp"]);
    expect(errors).toHaveLength(1);
    errors.length = 0;
  });

  it("never retries a refusal, and the subject's next Event goes out after it", async () => {
    const r = recorder({ backoff: { initialMs: 20, jitter: 0 } });
    api.faults.failNext(1, { status: 403, match: (q) => q.verb === "create" });
    r.record({ kind: "gateway-down", gateway: "10.0.0.2" });
    r.record({ kind: "gateway-up", gateway: "10.0.0.2" });
    await r.settled();
    expect(creates().map((q) => q.status)).toEqual([403, 201]);
    expect(writtenReasons()).toEqual(["GatewayUp"]);
    expect(errors).toHaveLength(1);
    errors.length = 0;
  });

  it("names an Event within 253 characters when its subject's name is that long already", async () => {
    const longName = `${"n".repeat(120)}.${"x".repeat(131)}`;
    const r = recorder({ nodeName: longName });
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    await r.settled();
    expect(events()).toHaveLength(1);
    const written = events()[0] as unknown as RecordedEvent & { metadata: { name: string } };
    expect(written.regarding.name).toBe(longName);
    expect(written.metadata.name.length).toBeLessThanOrEqual(253);
    expect(written.metadata.name.startsWith("n".repeat(120))).toBe(true);
    // The API server takes at most 128 characters of reportingInstance: the node name's
    // end, where the names of a pool's nodes differ, is kept.
    expect(written.reportingInstance).toBe(`kroute-agent-${"x".repeat(115)}`);
  });

  it("derives route transitions from desired tables: failed, conflict, invalid, recovered", async () => {
    const r = recorder();
    const step = (state: "programmed" | "failed" | "conflicted" | "invalid", reason?: string) =>
      r.update(
        table([
          outcome("egress", 1, true, { destinations: [destination("egress", "10.1.0.0/16", state, reason)] }),
        ]),
      );
    step("programmed");
    step("failed", "Network is unreachable");
    step("failed", "Network is unreachable");
    await r.settled();
    expect(reasons()).toEqual(["RouteFailed"]);
    const failed = events()[0]!;
    expect(failed.regarding).toEqual({ apiVersion: `${GROUP}/${VERSION}`, kind: "Route", name: "egress" });
    expect(failed.related).toMatchObject({ kind: "Node", name: "n1" });
    expect(failed.note).toContain("Network is unreachable");
    step("programmed");
    step("conflicted", "route vpn owns 10.1.0.0/16 in table 254");
    step("invalid", "protected prefix");
    step("invalid", "protected prefix");
    await r.settled();
    expect(reasons()).toEqual(["DestinationConflict", "InvalidDestination", "RouteFailed", "RouteRecovered"]);
    expect(events().find((e) => e.reason === "InvalidDestination")?.note).toBe(
      'destination "10.1.0.0/16" refused on node n1: protected prefix',
    );
  });

  it("writes a destination becoming skipped (the node took its gateway's address) and back as Normal; skipped from the start is no news", async () => {
    const r = recorder();
    const step = (route: string, state: "programmed" | "failed" | "skipped", reason?: string) =>
      r.update(
        table([
          outcome(route, 1, true, { destinations: [destination(route, "10.1.0.0/16", state, reason)] }),
        ]),
      );
    step("nat", "skipped", "not routed on this node: it is the gateway 10.114.0.3");
    step("egress", "programmed");
    step("egress", "skipped", "not routed on this node: it is the gateway 10.114.0.3");
    await r.settled();
    expect(reasons()).toEqual(["RouteSkipped"]);
    expect(events()[0]).toMatchObject({ type: "Normal", regarding: { name: "egress" } });
    expect(events()[0]?.note).toContain("it is the gateway 10.114.0.3");
    // The address moved away again: the destination is routed here once more.
    step("egress", "programmed");
    await r.settled();
    expect(reasons()).toEqual(["RouteRecovered", "RouteSkipped"]);
  });

  it("forgets destinations that went away, so they report afresh when they return", async () => {
    const r = recorder();
    const failing = table([
      outcome("egress", 1, true, { destinations: [destination("egress", "10.1.0.0/16", "failed", "x")] }),
    ]);
    r.update(failing);
    r.update(table([]));
    r.update(failing);
    await r.settled();
    expect(reasons()).toEqual(["RouteFailed", "RouteFailed", "RouteWithdrawn"]);
  });

  it("gives a destination that leaves the node while failed a last word, so that the warning does not stand for good", async () => {
    const r = recorder();
    r.update(
      table([
        outcome("egress", 1, true, {
          destinations: [
            destination("egress", "10.1.0.0/16", "failed", "Network is unreachable"),
            destination("egress", "10.2.0.0/16", "programmed"),
          ],
        }),
      ]),
    );
    // The node's labels move it off the Route.
    r.update(table([]));
    await r.settled();
    expect(reasons()).toEqual(["RouteFailed", "RouteWithdrawn"]);
    const withdrawn = events().find((e) => e.reason === "RouteWithdrawn");
    expect(withdrawn).toMatchObject({ type: "Normal", regarding: { kind: "Route", name: "egress" } });
    expect(withdrawn?.note).toBe(
      "destination 10.1.0.0/16 is no longer routed on node n1 (the Route was deleted or no longer selects the node); its last Event here said failed",
    );
  });

  it("forgets gateways no Route names: one that comes back down is news again", async () => {
    const clock = manualClock();
    const r = recorder({ timers: clock, burst: 1, refillMs: 1000 });
    r.update(table([], [gateway("10.0.0.1", "down")]));
    r.update(table([], []));
    // Back, and down: news again, the gateway having been forgotten (and its allowance back).
    clock.advance(1000);
    r.update(table([], [gateway("10.0.0.1", "down")]));
    await r.settled();
    expect(reasons()).toEqual(["GatewayDown", "GatewayDown"]);
  });

  it("ignores Routes not selected for this node, and derives gateway transitions too", async () => {
    const r = recorder();
    r.update(
      table(
        [
          outcome("elsewhere", 1, true, {
            selected: false,
            destinations: [destination("elsewhere", "10.2.0.0/16", "invalid", "x")],
          }),
        ],
        [gateway("10.0.0.1", "down")],
      ),
    );
    await r.settled();
    expect(reasons()).toEqual(["GatewayDown"]);
  });

  it("writes one Warning per Route when its destinations go fail-static, and one Normal when they leave it", async () => {
    const r = recorder();
    const down = ["10.0.0.2", "10.0.0.1"];
    const step = (failStatic: readonly boolean[]) =>
      r.update(
        table([
          outcome("egress", 1, true, {
            destinations: ["10.1.0.0/16", "fd00::/64"].map((dst, i) => ({
              ...destination("egress", dst, "programmed"),
              gateways: down as IpAddr[],
              ...(failStatic[i] === true ? { failStatic: true } : {}),
            })),
          }),
        ]),
      );
    step([false, false]); // first seen healthy: no news
    step([true, true]);
    step([true, true]);
    step([true, false]); // still fail-static: the same transition
    await r.settled();
    expect(reasons()).toEqual(["RouteFailStatic"]);
    const warning = events()[0]!;
    expect(warning).toMatchObject({
      type: "Warning",
      regarding: { apiVersion: `${GROUP}/${VERSION}`, kind: "Route", name: "egress" },
      related: { kind: "Node", name: "n1" },
    });
    expect(warning.note).toBe(
      "2 destinations (10.1.0.0/16, fd00::/64) on node n1: every gateway is down (10.0.0.1, 10.0.0.2); kept on all of them (fail-static)",
    );
    step([false, false]);
    step([false, false]);
    await r.settled();
    expect(reasons()).toEqual(["RouteFailStatic", "RouteFailStaticCleared"]);
    expect(events().find((e) => e.reason === "RouteFailStaticCleared")).toMatchObject({ type: "Normal" });
    // A Route that goes away while fail-static has its warning cleared (it is fail-static
    // on this node no more); back fail-static, it is news again.
    step([true, false]);
    r.update(table([]));
    step([true, false]);
    await r.settled();
    expect(reasons()).toEqual([
      "RouteFailStatic",
      "RouteFailStatic",
      "RouteFailStatic",
      "RouteFailStaticCleared",
      "RouteFailStaticCleared",
    ]);
    expect(
      events().filter((e) => e.note.startsWith("destination 10.1.0.0/16 on node n1: every gateway")),
    ).toHaveLength(2);
  });

  it("writes a few of one Route's destination Events per change and one counting the rest, however many change", async () => {
    const r = recorder();
    const refused = (state: "invalid" | "programmed") =>
      Array.from({ length: 1024 }, (_, i) =>
        destination("big", `10.96.${i >> 2}.${(i & 3) * 64}/26`, state, "within 10.96.0.0/12 (protected)"),
      );
    const small = [destination("small", "10.97.0.0/16", "invalid", "within 10.96.0.0/12 (protected)")];
    r.update(
      table([
        outcome("big", 1, true, { destinations: refused("invalid") }),
        outcome("small", 1, true, { destinations: small }),
      ]),
    );
    await r.settled();
    const count = (reason: string, route: string) =>
      events().filter((e) => e.reason === reason && e.regarding.name === route).length;
    expect(count("InvalidDestination", "big")).toBe(MAX_DESTINATION_EVENTS);
    expect(count("InvalidDestination", "small")).toBe(1);
    const [omitted] = events().filter((e) => e.reason === "DestinationEventsOmitted");
    expect(events()).toHaveLength(MAX_DESTINATION_EVENTS + 2);
    expect(omitted).toMatchObject({ type: "Warning", regarding: { kind: "Route", name: "big" } });
    expect(omitted?.note).toBe(
      `${1024 - MAX_DESTINATION_EVENTS} more destinations of Route big changed on node n1 (${1024 - MAX_DESTINATION_EVENTS} invalid), past the ${MAX_DESTINATION_EVENTS} Events one change writes; the Route's status and NodeRouteTable n1 list them`,
    );
    // Deleted: the last words on its refused destinations are capped as well.
    r.update(table([outcome("small", 1, true, { destinations: small })]));
    await r.settled();
    expect(count("RouteWithdrawn", "big")).toBe(MAX_DESTINATION_EVENTS);
    expect(events()).toHaveLength(2 * MAX_DESTINATION_EVENTS + 3);
  });

  it("throttles a flapping subject", async () => {
    const clock = manualClock();
    const throttled: Transition[] = [];
    const r = recorder({ burst: 2, refillMs: 60_000, timers: clock, onThrottled: (t) => throttled.push(t) });
    for (let i = 0; i < 3; i++) {
      r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
      r.record({ kind: "gateway-up", gateway: "10.0.0.1" });
    }
    await r.settled();
    expect(events()).toHaveLength(2);
    // Each down held back; each up then matched the last Event again.
    expect(throttled.map((t) => t.kind)).toEqual(["gateway-down", "gateway-down"]);
    clock.advance(60_000);
    await r.settled();
    expect(events()).toHaveLength(2);
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    await r.settled();
    expect(events()).toHaveLength(3);
  });

  it("writes the state a throttled subject settled in once the allowance is back, and only that", async () => {
    const clock = manualClock();
    const r = recorder({ burst: 2, refillMs: 60_000, timers: clock });
    // Down, up (both written), then down again, held back: it stays down.
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    r.record({ kind: "gateway-up", gateway: "10.0.0.1" });
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    // Another subject held back too, which returns to what its last Event said: nothing to tell.
    r.record({ kind: "gateway-down", gateway: "10.0.0.2" });
    r.record({ kind: "gateway-up", gateway: "10.0.0.2" });
    r.record({ kind: "gateway-down", gateway: "10.0.0.2" });
    r.record({ kind: "gateway-up", gateway: "10.0.0.2" });
    await r.settled();
    /** A gateway's Events, oldest first (the first two share their time: then by reason). */
    const gatewayEvents = (gw: string) =>
      events()
        .filter((e) => e.note.includes(`gateway ${gw} `))
        .sort((a, b) => a.eventTime.localeCompare(b.eventTime) || a.reason.localeCompare(b.reason))
        .map((e) => e.reason);
    expect(gatewayEvents("10.0.0.1")).toEqual(["GatewayDown", "GatewayUp"]);
    clock.advance(59_999);
    await r.settled();
    expect(gatewayEvents("10.0.0.1")).toHaveLength(2);
    clock.advance(1);
    await r.settled();
    expect(gatewayEvents("10.0.0.1")).toEqual(["GatewayDown", "GatewayUp", "GatewayDown"]);
    expect(gatewayEvents("10.0.0.2")).toEqual(["GatewayDown", "GatewayUp"]);
    clock.advance(600_000);
    await r.settled();
    expect(events()).toHaveLength(5);
  });

  it("drops the Events over the node's overall limit, whatever their subject, saying which, and tells no recovery of a failure it dropped", async () => {
    const clock = manualClock();
    const dropped: DroppedEvent[] = [];
    const r = recorder({
      overallBurst: 3,
      overallRefillMs: 30_000,
      timers: clock,
      onDropped: (d) => dropped.push(d),
    });
    const failed = (route: string) =>
      r.record({ kind: "route-failed", route, destination: "10.0.0.0/8", reason: "the kernel refused it" });
    for (const route of ["r0", "r1", "r2", "r3", "r4"]) failed(route);
    await r.settled();
    expect(
      events()
        .map((e) => e.regarding.name)
        .sort(),
    ).toEqual(["r0", "r1", "r2"]);
    expect(dropped).toEqual([
      { reason: "RouteFailed", subject: "destination/r3/10.0.0.0/8" },
      { reason: "RouteFailed", subject: "destination/r4/10.0.0.0/8" },
    ]);
    // The allowance comes back one Event per refill; a dropped failure's recovery is no news.
    clock.advance(30_000);
    r.record({ kind: "route-recovered", route: "r4", destination: "10.0.0.0/8" });
    r.record({ kind: "route-recovered", route: "r0", destination: "10.0.0.0/8" });
    r.record({ kind: "route-recovered", route: "r1", destination: "10.0.0.0/8" });
    await r.settled();
    expect(reasons()).toEqual(["RouteFailed", "RouteFailed", "RouteFailed", "RouteRecovered"]);
    expect(dropped.map((d) => d.subject)).toEqual([
      "destination/r3/10.0.0.0/8",
      "destination/r4/10.0.0.0/8",
      "destination/r1/10.0.0.0/8",
    ]);
  });

  it("drops what it holds back when closed", async () => {
    const clock = manualClock();
    const r = recorder({ burst: 1, refillMs: 60_000, timers: clock });
    r.record({ kind: "gateway-down", gateway: "10.0.0.1" });
    r.record({ kind: "gateway-up", gateway: "10.0.0.1" });
    r.close();
    clock.advance(60_000);
    await r.settled();
    expect(reasons()).toEqual(["GatewayDown"]);
  });
});
