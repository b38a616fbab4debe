/**
 * What must hold after every reconcile: the kernel's owned state is exactly the
 * engine's desired table and routes traffic as the model says; foreign objects are
 * unchanged; a second reconcile, and a reconcile after a fresh dump, have nothing to do.
 */
import {
  canonicalNexthop,
  canonicalRoute,
  canonicalRule,
  desiredTable,
  ownedFromSnapshot,
  ownedObjects,
  plan,
} from "@kroute/core";
import { expect } from "vitest";
import { expectedRouting, expectedRules, type Model, observedRouting } from "./model.ts";
import type { World } from "./world.ts";

const sorted = (items: readonly string[]): string[] => [...items].sort();

export function checkInvariants(model: Model, world: World): void {
  const snapshot = world.kernel.listSync();
  const owned = ownedObjects(ownedFromSnapshot(snapshot, world.settings));
  const desired = desiredTable(world.state);
  expect(sorted(owned.routes.map(canonicalRoute))).toEqual(sorted(desired.routes.map(canonicalRoute)));
  expect(sorted(owned.nexthops.map(canonicalNexthop))).toEqual(
    sorted(desired.nexthops.map(canonicalNexthop)),
  );
  expect(sorted(owned.rules.map(canonicalRule))).toEqual(sorted(desired.rules.map(canonicalRule)));

  const routing = [...observedRouting(snapshot, world.settings.protocol)].sort();
  expect(routing).toEqual([...expectedRouting(model, world.settings)].sort());
  expect(sorted(owned.rules.map(canonicalRule))).toEqual(
    sorted(expectedRules(model, world.settings).map(canonicalRule)),
  );

  const protocol = world.settings.protocol;
  const foreign = {
    routes: sorted(snapshot.routes.filter((route) => route.protocol !== protocol).map(canonicalRoute)),
    nexthops: sorted(
      snapshot.nexthops
        .filter((nexthop) => !owned.nexthops.some((o) => o.id === nexthop.id))
        .map(canonicalNexthop),
    ),
    rules: sorted(snapshot.rules.filter((rule) => rule.protocol !== protocol).map(canonicalRule)),
  };
  expect(foreign).toEqual({
    routes: sorted(model.foreignRoutes.map(canonicalRoute)),
    nexthops: sorted(model.foreignNexthops.map(canonicalNexthop)),
    rules: sorted(model.foreignRules.map(canonicalRule)),
  });

  expect(plan(world.state)).toEqual([]);
  world.dump();
  expect(plan(world.state)).toEqual([]);
}

/** Every command ends the same way: the agent reconciles, then everything above must hold. */
export function settle(model: Model, world: World): void {
  world.reconcile();
  checkInvariants(model, world);
}
