import {
  BASELINE_TOPOLOGY,
  type ConformanceHarness,
  dataplaneConformance,
  describeAsRoot,
} from "@kroute/testkit";
import { createNetlinkDataplane } from "../src/index.ts";
import { baselineNetns } from "./netns-host.ts";

describeAsRoot("netlink driver in a fresh network namespace", () => {
  dataplaneConformance("netlink", async (): Promise<ConformanceHarness> => {
    const { ns, host } = await baselineNetns();
    try {
      const dataplane = await createNetlinkDataplane({ netns: ns.name });
      return {
        dataplane,
        host,
        topology: BASELINE_TOPOLOGY,
        othersRouteRequest: (route, request) => dataplane.routeRequest(route, request),
        cleanup: async () => {
          await dataplane.close();
          await ns.destroy();
        },
      };
    } catch (error) {
      await ns.destroy();
      throw error;
    }
  });
});
