/**
 * A node with two uplinks, eth0 and eth1, each to its own router holding the same
 * link-local address (fe80::1), as a cloud's IPv6 router is on every interface: what
 * it takes to tell whether a probe or a route reaches the router of the right link.
 */
import type { IpAddr } from "@kroute/core";
import { createNetnsWithoutDad, type Netns } from "./netns.ts";

export interface LinkLocalRouters {
  readonly address: IpAddr;
  readonly node: Netns;
  /** routers[i] is the router on the node's eth<i>. */
  readonly routers: readonly [Netns, Netns];
  destroy(): Promise<void>;
}

export async function createLinkLocalRouters(address = "fe80::1" as IpAddr): Promise<LinkLocalRouters> {
  const created: Netns[] = [];
  const make = async (prefix: string) => {
    const ns = await createNetnsWithoutDad(prefix);
    created.push(ns);
    return ns;
  };
  const destroy = async () => {
    await Promise.all(created.map((ns) => ns.destroy()));
  };
  try {
    const node = await make("kr-node");
    const routers = [await make("kr-r0"), await make("kr-r1")] as const;
    for (const [i, router] of routers.entries()) {
      await node.ipBatch([
        `link add eth${i} type veth peer name lan netns ${router.name}`,
        `link set eth${i} up`,
      ]);
      await router.ipBatch([`addr add ${address}/64 dev lan nodad`, "link set lan up"]);
    }
    // Resolve both neighbours once: a first neighbour solicitation on a fresh veth is
    // occasionally lost (see topology.ts).
    await Promise.all(
      [0, 1].map((i) => node.exec("ping", ["-c", "1", "-W", "3", "-q", `${address}%eth${i}`])),
    );
    return { address, node, routers, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}
