/** The conformance suite's baseline topology as a fake host description. */
import { BASELINE_TOPOLOGY } from "@kroute/testkit";
import type { HostDescription } from "../src/index.ts";

export const BASELINE_HOST: HostDescription = {
  links: BASELINE_TOPOLOGY.links.map((link) => ({ name: link.name })),
  addresses: BASELINE_TOPOLOGY.links.flatMap((link) => [
    { dev: link.name, ...link.v4 },
    { dev: link.name, ...link.v6 },
  ]),
};
