/**
 * Model-based test (fast-check commands): the core engine with the fake kernel,
 * driven through Route changes, probe flaps, agent restarts, external deletions,
 * foreign objects, injected errnos, interrupted dumps and lost notifications.
 * After every reconcile the invariants of invariants.ts must hold.
 */
import { DEFAULT_SETTINGS, type EngineSettings, type IpAddr, type Prefix } from "@kroute/core";
import fc from "fast-check";
import { describe, it } from "vitest";
import { CarrierFlapCommand } from "./commands/carrier-flap.ts";
import { DeleteRouteCommand } from "./commands/delete-route.ts";
import { DropNotificationsCommand } from "./commands/drop-notifications.ts";
import { ExternalDeleteCommand } from "./commands/external-delete.ts";
import { ForeignObjectCommand } from "./commands/foreign-object.ts";
import { InjectErrnoCommand } from "./commands/inject-errno.ts";
import { InterruptDumpCommand } from "./commands/interrupt-dump.ts";
import { ProbeResultCommand } from "./commands/probe-result.ts";
import { RestartAgentCommand } from "./commands/restart-agent.ts";
import { ResyncCommand } from "./commands/resync.ts";
import { UpsertRouteCommand } from "./commands/upsert-route.ts";
import { checkInvariants } from "./invariants.ts";
import { emptyModel, type Model } from "./model.ts";
import { World } from "./world.ts";

const NAMES = ["r1", "r2", "r3", "r4"];
const DESTINATIONS = [
  "0.0.0.0/0",
  "::/0",
  "10.9.0.0/16",
  "10.10.0.0/16",
  "192.168.50.0/24",
  "172.20.0.0/16",
  "10.200.0.1/32",
  "fd10:9::/64",
  "2001:db8:40::/48",
];
const GATEWAYS_V4 = ["10.114.0.3", "10.114.0.4", "10.114.0.5", "10.114.0.6"] as IpAddr[];
const GATEWAYS_V6 = ["fd00::3", "fd00::4"] as IpAddr[];
const ERRNOS = ["ENOBUFS", "EBUSY", "ENOMEM", "EAGAIN", "EINTR"];

const routeArbitrary = fc.record({
  name: fc.constantFrom(...NAMES),
  creationTimestamp: fc.constantFrom("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"),
  destinations: fc.uniqueArray(fc.constantFrom(...DESTINATIONS), { minLength: 1, maxLength: 4 }),
  gateways: fc.uniqueArray(fc.constantFrom(...GATEWAYS_V4, ...GATEWAYS_V6), { minLength: 1, maxLength: 4 }),
  probe: fc.boolean(),
  table: fc.option(fc.constant(100), { nil: undefined }),
});

const commands = [
  routeArbitrary.map(
    ({ table, ...route }) => new UpsertRouteCommand(table === undefined ? route : { ...route, table }),
  ),
  fc.constantFrom(...NAMES).map((name) => new DeleteRouteCommand(name)),
  fc
    .tuple(fc.constantFrom(...GATEWAYS_V4, ...GATEWAYS_V6), fc.boolean())
    .map(([gateway, up]) => new ProbeResultCommand(gateway, up)),
  fc.constant(new RestartAgentCommand()),
  fc
    .tuple(fc.constantFrom("route" as const, "nexthop" as const), fc.nat(20))
    .map(([kind, pick]) => new ExternalDeleteCommand(kind, pick)),
  fc
    .oneof(
      fc.record({
        kind: fc.constant("route" as const),
        dst: fc.constantFrom(...DESTINATIONS, "10.77.0.0/16").map((dst) => dst as Prefix),
        metric: fc.constantFrom(0, 100, 300),
        table: fc.constantFrom(100, 254),
      }),
      fc.record({ kind: fc.constant("nexthop" as const), id: fc.integer({ min: 1, max: 9 }) }),
      fc.record({ kind: fc.constant("rule" as const), priority: fc.constantFrom(500, 1350, 2000) }),
    )
    .map((object) => new ForeignObjectCommand(object)),
  fc
    .tuple(fc.integer({ min: 1, max: 3 }), fc.constantFrom(...ERRNOS))
    .map(([count, errno]) => new InjectErrnoCommand(count, errno)),
  fc.constant(new InterruptDumpCommand()),
  fc.integer({ min: 1, max: 5 }).map((count) => new DropNotificationsCommand(count)),
  fc.constant(new ResyncCommand()),
];

const withCarrierFlaps = [...commands, fc.constant(new CarrierFlapCommand("eth1", false))];
const withCarrierFlapsThenResync = [...commands, fc.constant(new CarrierFlapCommand("eth1", true))];

function runModel(settings: EngineSettings, commandSet = commands): void {
  fc.assert(
    fc.property(fc.commands(commandSet, { maxCommands: 40, size: "max" }), (sequence) => {
      const world = new World(settings);
      const model: Model = emptyModel();
      const initial = world.kernel.listSync();
      model.foreignRoutes.push(...initial.routes);
      model.foreignRules.push(...initial.rules);
      world.reconcile();
      checkInvariants(model, world);
      fc.modelRun(() => ({ model, real: world }), sequence);
    }),
    { numRuns: Number(process.env.FC_NUM_RUNS ?? 60) },
  );
}

describe("engine + fake kernel against a simple model", () => {
  it("resilient nexthop groups (the default)", () => {
    runModel(DEFAULT_SETTINGS);
  });

  it("hash-threshold nexthop groups", () => {
    const { resilient: _none, ...settings } = DEFAULT_SETTINGS;
    runModel(settings);
  });

  it("plain multipath routes (kernels without nexthop objects)", () => {
    runModel({ ...DEFAULT_SETTINGS, nexthopMode: "multipath" });
  });
});

describe("carrier flaps on the gateways' link", () => {
  it("plain multipath routes survive (Linux keeps them, flagged linkdown)", () => {
    runModel({ ...DEFAULT_SETTINGS, nexthopMode: "multipath" }, withCarrierFlaps);
  });

  it("nexthop groups are re-created by the next periodic resync", () => {
    runModel(DEFAULT_SETTINGS, withCarrierFlapsThenResync);
  });

  // Linux flushes nexthop objects on carrier loss without a nexthop or route
  // notification; the engine mirrors the flush from the link change alone.
  it("nexthop groups are re-created after the silent flush, without waiting for a resync", () => {
    runModel(DEFAULT_SETTINGS, withCarrierFlaps);
  });
});
