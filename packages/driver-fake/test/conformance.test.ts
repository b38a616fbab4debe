import { BASELINE_TOPOLOGY, type ConformanceHarness, dataplaneConformance } from "@kroute/testkit";
import { createFakeKernel } from "../src/index.ts";
import { BASELINE_HOST } from "./baseline-host.ts";

dataplaneConformance("fake kernel", async (): Promise<ConformanceHarness> => {
  const kernel = createFakeKernel(BASELINE_HOST);
  return {
    dataplane: kernel,
    topology: BASELINE_TOPOLOGY,
    host: {
      addLink: async (name) => kernel.addLink(name),
      deleteLink: async (name) => kernel.deleteLink(name),
      setCarrier: async (name, carrier) => kernel.setCarrier(name, carrier),
      setAdminUp: async (name, up) => kernel.setAdminUp(name, up),
      addAddress: async (dev, ip, prefixLength) => kernel.addAddress(dev, ip, prefixLength),
      removeAddress: async (dev, ip, prefixLength) => kernel.removeAddress(dev, ip, prefixLength),
      setPromoteSecondaries: async (promote) => kernel.setPromoteSecondaries(promote),
    },
    othersRouteRequest: async (route, request) => kernel.routeRequestSync(route, request),
    cleanup: () => kernel.close(),
  };
});
