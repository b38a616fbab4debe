import { map, type Observable, Subject } from "rxjs";
import { TestScheduler } from "rxjs/testing";
import { describe, expect, it } from "vitest";
import { routeOutcome } from "../src/desired.ts";
import { createEngine, type EngineStep } from "../src/engine.ts";
import type { EventBody } from "../src/events.ts";
import type { Op, OpResult } from "../src/kernel.ts";
import { DEFAULT_SETTINGS } from "../src/settings.ts";
import { emptySnapshot, hostFacts, NODE, readyState, route } from "./fixtures.ts";

/** Node, host, Routes and kernel all synced, as marble values a..d. */
const setup: Record<"a" | "b" | "c" | "d", EventBody> = {
  a: { type: "node/observed", node: NODE, labels: {} },
  b: hostFacts(),
  c: { type: "route/resynced", routes: [] },
  d: { type: "kernel/observed", node: NODE, snapshot: emptySnapshot },
};

const upsert = (name: string, destinations: string[]): EventBody => ({
  type: "route/upserted",
  route: route(name, { destinations, gateways: ["10.114.0.3"] }),
});

const ok = (ops: readonly Op[]): OpResult[] => ops.map(() => ({ ok: true }));

function summary(step: EngineStep): string {
  return `${step.event.type}${step.ops === undefined ? "" : `+${step.ops.length}`}`;
}

function newScheduler() {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe("createEngine (marbles)", () => {
  it("reduces, plans, applies and feeds the results back", () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const sources = [
        cold<EventBody>("(abcd)", setup),
        cold<EventBody>("10ms r", { r: upsert("one", ["10.9.0.0/16"]) }),
      ];
      const applied: (readonly Op[])[] = [];
      const engine = createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        sources,
        scheduler,
        apply: (ops) => {
          applied.push(ops);
          return cold<OpResult[]>("10ms (x|)", { x: ok(ops) });
        },
      });
      expectObservable(engine.pipe(map(summary))).toBe("(abcd) 4ms e 9ms f", {
        a: "node/observed",
        b: "host/observed",
        c: "route/resynced",
        d: "kernel/observed",
        e: "route/upserted+2",
        f: "dataplane/applied",
      });
      scheduler.flush();
      expect(applied.map((ops) => ops.map((o) => `${o.object}/${o.action}`))).toEqual([
        ["nexthop/add", "route/add"],
      ]);
    });
  });

  it("keeps one apply in flight and batches what arrived meanwhile against the latest state", () => {
    const scheduler = newScheduler();
    const steps: EngineStep[] = [];
    scheduler.run(({ cold }) => {
      const sources = [
        cold<EventBody>("(abcd)", setup),
        cold<EventBody>("10ms x 2ms y 2ms z", {
          x: upsert("one", ["10.9.0.0/16"]),
          y: upsert("two", ["10.10.0.0/16"]),
          z: upsert("three", ["10.11.0.0/16", "10.12.0.0/16"]),
        }),
      ];
      createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        sources,
        scheduler,
        apply: (ops) => cold<OpResult[]>("20ms (x|)", { x: ok(ops) }),
      }).subscribe((step) => steps.push(step));
    });
    expect(steps.map((s) => `${s.event.seq}@${Date.parse(s.event.at)} ${summary(s)}`)).toEqual([
      "1@0 node/observed",
      "2@0 host/observed",
      "3@0 route/resynced",
      "4@0 kernel/observed",
      "5@10 route/upserted+2",
      "6@13 route/upserted",
      "7@16 route/upserted",
      "8@30 dataplane/applied+3",
      "9@50 dataplane/applied",
    ]);
    const last = steps.at(-1)?.state;
    expect(last && routeOutcome(last, "three")?.destinations.map((d) => d.state)).toEqual([
      "programmed",
      "programmed",
    ]);
  });

  it("retries a refused op after its backoff, through a timer event", () => {
    const scheduler = newScheduler();
    const steps: EngineStep[] = [];
    let attempts = 0;
    scheduler.run(({ cold }) => {
      const sources: Observable<EventBody>[] = [
        cold<EventBody>("(abcd) 10ms r", { ...setup, r: upsert("one", ["10.9.0.0/16"]) }),
      ];
      createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        sources,
        scheduler,
        apply: (ops) => {
          attempts += 1;
          const results: OpResult[] = ops.map((op) =>
            op.object === "route" && attempts < 3
              ? { ok: false, errno: 101, code: "ENETUNREACH", message: "Network is unreachable" }
              : { ok: true },
          );
          return cold<OpResult[]>("(x|)", { x: results });
        },
      }).subscribe((step) => steps.push(step));
    });
    expect(steps.slice(4).map((s) => `${Date.parse(s.event.at)} ${summary(s)}`)).toEqual([
      "16 route/upserted+2",
      "16 dataplane/applied",
      "1016 timer/fired+1",
      "1016 dataplane/applied",
      "3016 timer/fired+1",
      "3016 dataplane/applied",
    ]);
    const last = steps.at(-1)?.state;
    expect(last && routeOutcome(last, "one")?.destinations[0]?.state).toBe("programmed");
  });

  it("surfaces a broken driver as an error, and completes when its sources do", () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const broken = createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        sources: [cold<EventBody>("(abcd) r", { ...setup, r: upsert("one", ["10.9.0.0/16"]) })],
        scheduler,
        apply: () => cold<OpResult[]>("#", {}, new Error("socket closed")),
      });
      expectObservable(broken.pipe(map(summary))).toBe(
        "(abcd) (e#)",
        {
          a: "node/observed",
          b: "host/observed",
          c: "route/resynced",
          d: "kernel/observed",
          e: "route/upserted+2",
        },
        new Error("socket closed"),
      );
      const quiet = createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        sources: [cold<EventBody>("a|", setup)],
        scheduler,
        apply: (ops) => cold<OpResult[]>("(x|)", { x: ok(ops) }),
      });
      expectObservable(quiet.pipe(map(summary))).toBe("a|", { a: "node/observed" });
    });
  });

  it("a driver that throws, or answers nothing, stops the engine with an error", () => {
    for (const apply of [
      (): never => {
        throw new Error("socket closed");
      },
      () => [] as OpResult[][],
    ]) {
      const errors: unknown[] = [];
      const scheduler = newScheduler();
      scheduler.run(({ cold }) => {
        createEngine({
          node: NODE,
          settings: DEFAULT_SETTINGS,
          initialState: readyState(),
          sources: [cold<EventBody>("r", { r: upsert("one", ["10.9.0.0/16"]) })],
          scheduler,
          apply,
        }).subscribe({ error: (error: unknown) => errors.push(error) });
      });
      expect(errors).toHaveLength(1);
    }
  });

  it("continues from a given state and sequence number, and can report the desired table with each step", () => {
    const scheduler = newScheduler();
    const steps: EngineStep[] = [];
    const start = readyState();
    scheduler.run(({ cold }) => {
      createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        initialState: start,
        lastSeq: 41,
        withDesired: true,
        sources: [cold<EventBody>("r|", { r: upsert("one", ["10.9.0.0/16"]) })],
        scheduler,
        apply: (ops) => cold<OpResult[]>("(x|)", { x: ok(ops) }),
      }).subscribe((step) => steps.push(step));
    });
    expect(steps.map((s) => `${s.event.seq} ${summary(s)}`)).toEqual([
      "42 route/upserted+2",
      "43 dataplane/applied",
    ]);
    expect(steps[0]?.desired?.routes.map((r) => r.dst)).toEqual(["10.9.0.0/16"]);
    expect(steps[1]?.results?.every((r) => r.result.ok)).toBe(true);
    expect(steps[1]?.desired?.outcomes[0]?.destinations[0]?.state).toBe("programmed");
  });

  /**
   * Upserts one Route on a ready node; while its first batch is in flight, the kernel
   * notifies `during` (actions on the batch's route add), then the batch succeeds.
   */
  function stepsWithNotificationsInFlight(during: readonly ("new" | "del")[]): EngineStep[] {
    const scheduler = newScheduler();
    const steps: EngineStep[] = [];
    const kernel = new Subject<EventBody>();
    scheduler.run(({ cold }) => {
      let first = true;
      createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        initialState: readyState(),
        sources: [cold<EventBody>("r", { r: upsert("one", ["10.9.0.0/16"]) }), kernel],
        scheduler,
        apply: (ops) => {
          const added = ops.find((op) => op.object === "route" && op.action === "add");
          if (first && added?.object === "route" && added.action === "add") {
            first = false;
            for (const action of during) {
              kernel.next({
                type: "kernel/changed",
                node: NODE,
                change: { kind: "route", action, route: added.to },
              });
            }
          }
          return cold<OpResult[]>("10ms (x|)", { x: ok(ops) });
        },
      }).subscribe((step) => steps.push(step));
    });
    return steps;
  }

  it("lets notifications seen after an op's echo stand over its answer: a route deleted while the batch was in flight is added again", () => {
    // The kernel announces the route as written, and then someone deletes it, both
    // before the batch's answer is in.
    const steps = stepsWithNotificationsInFlight(["new", "del"]);
    expect(steps.map(summary)).toEqual([
      "route/upserted+2",
      "kernel/changed",
      "kernel/changed",
      "dataplane/applied+1",
      "dataplane/applied",
    ]);
    const answer = steps[3]?.event;
    expect(answer?.type === "dataplane/applied" ? answer.echoed : undefined).toEqual([1]);
    expect(steps[3]?.ops?.map((op) => `${op.object}/${op.action}`)).toEqual(["route/add"]);
  });

  it("takes an answer whose echo has not come yet as the newest word, over older notifications", () => {
    // A deletion from before the write (no echo of it yet): the answer stands.
    const steps = stepsWithNotificationsInFlight(["del"]);
    expect(steps.map(summary)).toEqual(["route/upserted+2", "kernel/changed", "dataplane/applied"]);
    const answer = steps[2]?.event;
    expect(answer?.type === "dataplane/applied" ? answer.echoed : "absent").toBeUndefined();
  });
});

describe("createEngine: a default-route override and its protections (SPEC §3.5)", () => {
  const egress: EventBody = {
    type: "route/upserted",
    route: route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3"] }),
  };
  const refusal: OpResult = { ok: false, errno: 22, code: "EINVAL", message: "Invalid argument" };
  const describeOp = (op: Op): string => {
    if (op.object === "nexthop") return `nexthop ${op.action}`;
    if (op.object === "rule")
      return `rule ${op.action} ${(op.action === "delete" ? op.from : op.to).priority}`;
    const subject = op.action === "delete" ? op.from : op.to;
    return `${op.action} ${subject.dst} table ${subject.table}`;
  };

  /** The dataplane's calls, with the API server's protected host route refused `refusals` times. */
  function run(refusals: number): { calls: string[][]; steps: EngineStep[] } {
    const calls: string[][] = [];
    const steps: EngineStep[] = [];
    let refused = 0;
    const scheduler = newScheduler();
    scheduler.run(({ cold }) => {
      createEngine({
        node: NODE,
        settings: DEFAULT_SETTINGS,
        sources: [cold<EventBody>("(abcd) 10ms r", { ...setup, r: egress })],
        scheduler,
        apply: (ops) => {
          calls.push(ops.map(describeOp));
          const results = ops.map((op): OpResult => {
            const isApiServerRoute = describeOp(op) === "add 203.0.113.100/32 table 254";
            if (!isApiServerRoute || refused >= refusals) return { ok: true };
            refused += 1;
            return refusal;
          });
          return cold<OpResult[]>("1ms (x|)", { x: results });
        },
      }).subscribe((step) => steps.push(step));
    });
    return { calls, steps };
  }

  it("applies a batch that installs an override in two stages: the override only after its protections", () => {
    const { calls } = run(0);
    expect(calls).toHaveLength(2);
    expect(calls[0]).toContain("add 203.0.113.100/32 table 254");
    expect(calls[0]).toContain("rule add 1350");
    expect(calls[0]?.some((op) => op.startsWith("add 0.0.0.0/0 table 254"))).toBe(false);
    expect(calls[1]).toEqual(["add 0.0.0.0/0 table 254"]);
  });

  it("never hands the dataplane an override whose protection was refused in the same batch; it goes in once the protection does", () => {
    const { calls, steps } = run(1);
    // The first stage's refusal keeps the override out of the second: nothing is left for it.
    expect(calls[0]).toContain("add 203.0.113.100/32 table 254");
    expect(calls.slice(1, 3)).toEqual([["add 203.0.113.100/32 table 254"], ["add 0.0.0.0/0 table 254"]]);
    expect(calls).toHaveLength(3);
    const firstApplied = steps.find((s) => s.event.type === "dataplane/applied")?.event;
    const firstResults = firstApplied?.type === "dataplane/applied" ? firstApplied.results : [];
    expect(firstResults.map(({ op }) => describeOp(op))).not.toContain("add 0.0.0.0/0 table 254");
    expect(firstResults.some(({ result }) => !result.ok)).toBe(true);
    const last = steps.at(-1)?.state;
    expect(last && routeOutcome(last, "egress")?.destinations[0]?.state).toBe("programmed");
  });
});
