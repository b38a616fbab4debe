/**
 * The Dataplane conformance suite: the same behaviours, checked against the fake
 * kernel and against Linux in a fresh network namespace. Any difference is a bug in
 * the fake (Linux is the reference) or in the netlink driver's translation.
 *
 * Each test gets a fresh harness in the baseline topology and cleans it up.
 */
import { afterEach, beforeEach, describe } from "vitest";
import { addressRemovalConformance } from "./address-removal.ts";
import { appendedRouteConformance } from "./appended-routes.ts";
import { blackholeNexthopConformance } from "./blackhole-nexthops.ts";
import { foreignNexthopConformance } from "./foreign-nexthops.ts";
import { gatewayConformance } from "./gateways.ts";
import type { ConformanceHarness } from "./harness.ts";
import { linkLocalConformance } from "./link-local.ts";
import { linkConformance } from "./links.ts";
import { lookupConformance } from "./lookups.ts";
import { nexthopConformance } from "./nexthops.ts";
import { notificationConformance } from "./notifications.ts";
import { replacedFlagConformance } from "./replaced-flag.ts";
import { routeConformance } from "./routes.ts";
import { ruleConformance } from "./rules.ts";
import { secondaryAddressConformance } from "./secondary-addresses.ts";
import { tosConformance } from "./tos.ts";

export function dataplaneConformance(name: string, setup: () => Promise<ConformanceHarness>): void {
  describe(`Dataplane conformance: ${name}`, () => {
    let current: ConformanceHarness | undefined;
    beforeEach(async () => {
      current = await setup();
    });
    afterEach(async () => {
      await current?.cleanup();
      current = undefined;
    });
    const harness = (): ConformanceHarness => {
      if (current === undefined) throw new Error("conformance harness used outside a test");
      return current;
    };
    routeConformance(harness);
    tosConformance(harness);
    appendedRouteConformance(harness);
    nexthopConformance(harness);
    blackholeNexthopConformance(harness);
    foreignNexthopConformance(harness);
    gatewayConformance(harness);
    linkConformance(harness);
    addressRemovalConformance(harness);
    secondaryAddressConformance(harness);
    linkLocalConformance(harness);
    ruleConformance(harness);
    lookupConformance(harness);
    notificationConformance(harness);
    replacedFlagConformance(harness);
  });
}
