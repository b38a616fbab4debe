import {
  DEFAULT_SETTINGS,
  desiredTable,
  type EngineEvent,
  type EventBody,
  initialNodeState,
  type NodeState,
  reduce,
} from "@kroute/core";
import { Subject } from "rxjs";
import { describe, expect, it } from "vitest";
import { gatewaysToProbe, probedGateways } from "../../src/health/probed.ts";
import { routeObject } from "./agent-in-netns.ts";

let seq = 0;
const apply = (state: NodeState, body: EventBody): NodeState =>
  reduce(state, { v: 1, seq: ++seq, at: "2026-01-01T00:00:00.000Z", ...body } as EngineEvent);

function stateWith(routes: ReturnType<typeof routeObject>[]): NodeState {
  let state = initialNodeState("n1", DEFAULT_SETTINGS);
  state = apply(state, { type: "node/observed", node: "n1", labels: {} });
  state = apply(state, {
    type: "host/observed",
    node: "n1",
    defaultGateways: [],
    addresses: [],
    dns: [],
    apiServers: [],
    protect: [],
  });
  return apply(state, { type: "route/resynced", routes });
}

describe("gateways to probe", () => {
  it("skips gateways only trusted Routes use (spec.probe: false), probes shared ones once", () => {
    const state = stateWith([
      routeObject("probed", ["198.51.100.0/24"], ["192.0.2.11", "192.0.2.12"]),
      routeObject("trusting", ["203.0.113.0/24"], ["192.0.2.12", "192.0.2.13"], { probe: false }),
    ]);
    expect(gatewaysToProbe(desiredTable(state))).toEqual(["192.0.2.11", "192.0.2.12"]);
  });

  it("emits only when the list changes", () => {
    const tables = new Subject<ReturnType<typeof desiredTable>>();
    const seen: (readonly string[])[] = [];
    probedGateways(tables).subscribe((list) => seen.push(list));
    const one = stateWith([routeObject("a", ["198.51.100.0/24"], ["192.0.2.11"])]);
    const two = stateWith([
      routeObject("a", ["198.51.100.0/24"], ["192.0.2.11"]),
      routeObject("b", ["203.0.113.0/24"], ["192.0.2.11"]),
    ]);
    const three = stateWith([routeObject("c", ["203.0.113.0/24"], ["192.0.2.14"], { probe: false })]);
    for (const state of [one, two, three]) tables.next(desiredTable(state));
    expect(seen).toEqual([["192.0.2.11"], []]);
  });
});
