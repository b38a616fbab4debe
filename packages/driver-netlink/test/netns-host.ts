/**
 * The conformance suite's baseline topology built in fresh network namespaces, and
 * its HostControl through `ip`. The node's namespace holds the links under test and
 * nothing else; each is a veth pair NAME / NAMEp whose far end NAMEp is a port of the
 * bridge br-NAME in a second namespace, the segment the gateways would be on. (This
 * kernel has no dummy module.) Carrier loss on NAME is NAMEp going down.
 */
import type { IpAddr } from "@kroute/core";
import { createNetns, type Netns } from "@kroute/lab";
import { BASELINE_TOPOLOGY, type HostControl } from "@kroute/testkit";

function netnsHostControl(ns: Netns, segments: Netns): HostControl {
  return {
    async addLink(name) {
      const port = `${name}p`;
      const bridge = `br-${name}`;
      await ns.ip("link", "add", name, "type", "veth", "peer", "name", port, "netns", segments.name);
      await segments.ip("link", "add", bridge, "type", "bridge");
      await segments.ip("link", "set", port, "master", bridge);
      await segments.ip("link", "set", bridge, "up");
      await segments.ip("link", "set", port, "up");
      await ns.ip("link", "set", name, "up");
    },
    async deleteLink(name) {
      // The port goes with its pair; the bridge, left empty, goes too.
      await ns.ip("link", "del", name);
      await segments.ip("link", "del", `br-${name}`);
    },
    async setCarrier(name, carrier) {
      await segments.ip("link", "set", `${name}p`, carrier ? "up" : "down");
    },
    async setAdminUp(name, up) {
      await ns.ip("link", "set", name, up ? "up" : "down");
    },
    async addAddress(dev, ip: IpAddr, prefixLength) {
      const v6 = ip.includes(":");
      await ns.ip("address", "add", `${ip}/${prefixLength}`, "dev", dev, ...(v6 ? ["nodad"] : []));
    },
    async removeAddress(dev, ip: IpAddr, prefixLength) {
      await ns.ip("address", "del", `${ip}/${prefixLength}`, "dev", dev);
    },
    async setPromoteSecondaries(promote) {
      // Linux promotes when `all` or the link's own value says so: every link's is set,
      // and `default`, which links made later start from.
      const links = await ns.ipJson<{ ifname: string }[]>("link", "show");
      const names = ["all", "default", ...links.map((link) => link.ifname)];
      const value = promote ? 1 : 0;
      await ns.exec("sysctl", [
        "-q",
        "-w",
        ...names.map((name) => `net.ipv4.conf.${name}.promote_secondaries=${value}`),
      ]);
    },
  };
}

/**
 * A fresh node namespace with the baseline links (kr0, kr1) up, with carrier and both
 * addresses, bridged to their segments. Its `destroy()` removes the segments too.
 */
export async function baselineNetns(): Promise<{ ns: Netns; host: HostControl }> {
  const node = await createNetns();
  let segments: Netns | undefined;
  const destroy = async () => {
    await node.destroy();
    await segments?.destroy();
  };
  const ns: Netns = { ...node, destroy };
  try {
    segments = await createNetns("kr-seg");
    const host = netnsHostControl(ns, segments);
    // A new namespace takes it from the host's (net.core.devconf_inherit_init_net=0); the
    // baseline is the fake's default whatever the host's.
    await host.setPromoteSecondaries(true);
    for (const link of BASELINE_TOPOLOGY.links) {
      await host.addLink(link.name);
      await host.addAddress(link.name, link.v4.ip, link.v4.prefixLength);
      await host.addAddress(link.name, link.v6.ip, link.v6.prefixLength);
    }
    return { ns, host };
  } catch (error) {
    await destroy();
    throw error;
  }
}
