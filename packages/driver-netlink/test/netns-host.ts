/**
 * The conformance suite's baseline topology built in a fresh network namespace, and
 * its HostControl through `ip`. This kernel has no dummy module, so every link is a
 * veth pair NAME / NAMEp with both ends up; carrier loss on NAME is NAMEp down.
 */
import type { IpAddr } from "@kroute/core";
import { createNetns, type Netns } from "@kroute/lab";
import { BASELINE_TOPOLOGY, type HostControl } from "@kroute/testkit";

export function netnsHostControl(ns: Netns): HostControl {
  return {
    async addLink(name) {
      await ns.ip("link", "add", name, "type", "veth", "peer", "name", `${name}p`);
      await ns.ip("link", "set", `${name}p`, "up");
      await ns.ip("link", "set", name, "up");
    },
    async deleteLink(name) {
      await ns.ip("link", "del", name);
    },
    async setCarrier(name, carrier) {
      await ns.ip("link", "set", `${name}p`, carrier ? "up" : "down");
    },
    async setAdminUp(name, up) {
      await ns.ip("link", "set", name, up ? "up" : "down");
    },
    async addAddress(dev, ip: IpAddr, prefixLength) {
      const v6 = ip.includes(":");
      await ns.ip("address", "add", `${ip}/${prefixLength}`, "dev", dev, ...(v6 ? ["nodad"] : []));
    },
  };
}

/** A fresh namespace with the baseline links (kr0, kr1) up, with carrier and both addresses. */
export async function baselineNetns(): Promise<{ ns: Netns; host: HostControl }> {
  const ns = await createNetns();
  const host = netnsHostControl(ns);
  try {
    for (const link of BASELINE_TOPOLOGY.links) {
      await host.addLink(link.name);
      await host.addAddress(link.name, link.v4.ip, link.v4.prefixLength);
      await host.addAddress(link.name, link.v6.ip, link.v6.prefixLength);
    }
  } catch (error) {
    await ns.destroy();
    throw error;
  }
  return { ns, host };
}
