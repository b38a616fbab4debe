/**
 * What the Dataplane conformance suite needs from a driver under test: the
 * dataplane itself and a small "host control" to change what routes depend on
 * (links, carrier, addresses), the way an operator or a cable would.
 *
 * The fake kernel implements HostControl directly; the netlink side implements it
 * with `ip` in a fresh network namespace. This kernel has no `dummy` module, so the
 * netlink harness builds each link as a veth pair `kr0` / `kr0p`, `kr0p` a port of a
 * bridge in a second namespace (the gateways' segment): carrier loss on `kr0` is
 * `kr0p` going down. IPv6 addresses are added `nodad`, so they are usable at once.
 */
import type { Dataplane, IpAddr, KernelRoute, OpResult } from "@kroute/core";

export interface HostControl {
  /** Creates a link, administratively up and with carrier. */
  addLink(name: string): Promise<void>;
  /** Deletes a link and (as the kernel does) everything on it. */
  deleteLink(name: string): Promise<void>;
  /** Carrier (IFF_LOWER_UP) on or off; the link stays administratively up. */
  setCarrier(name: string, carrier: boolean): Promise<void>;
  /** Administrative state (`ip link set NAME up|down`). */
  setAdminUp(name: string, up: boolean): Promise<void>;
  /** Adds `ip/prefixLength` on a link (IPv6 without duplicate address detection). */
  addAddress(dev: string, ip: IpAddr, prefixLength: number): Promise<void>;
  /** Removes `ip/prefixLength` from a link (`ip address del`). */
  removeAddress(dev: string, ip: IpAddr, prefixLength: number): Promise<void>;
  /**
   * net.ipv4.conf.*.promote_secondaries for every link, those made later too: whether
   * removing a subnet's primary IPv4 address promotes a secondary or removes them all.
   * The baseline has it on, as systemd sets it.
   */
  setPromoteSecondaries(promote: boolean): Promise<void>;
}

export interface TopologyLink {
  readonly name: string;
  readonly v4: { readonly ip: IpAddr; readonly prefixLength: number };
  readonly v6: { readonly ip: IpAddr; readonly prefixLength: number };
  /** Unused addresses inside the link's subnets: on-link gateways for tests. */
  readonly peersV4: readonly IpAddr[];
  readonly peersV6: readonly IpAddr[];
}

/** The topology every harness must start from: two links, up, with carrier and addresses. */
export interface BaselineTopology {
  readonly links: readonly [TopologyLink, TopologyLink];
}

export const BASELINE_TOPOLOGY: BaselineTopology = {
  links: [
    {
      name: "kr0",
      v4: { ip: "10.10.0.1" as IpAddr, prefixLength: 24 },
      v6: { ip: "fd10::1" as IpAddr, prefixLength: 64 },
      peersV4: ["10.10.0.2", "10.10.0.3", "10.10.0.4", "10.10.0.5"] as IpAddr[],
      peersV6: ["fd10::2", "fd10::3", "fd10::4", "fd10::5"] as IpAddr[],
    },
    {
      name: "kr1",
      v4: { ip: "10.11.0.1" as IpAddr, prefixLength: 24 },
      v6: { ip: "fd11::1" as IpAddr, prefixLength: 64 },
      peersV4: ["10.11.0.2", "10.11.0.3", "10.11.0.4", "10.11.0.5"] as IpAddr[],
      peersV6: ["fd11::2", "fd11::3", "fd11::4", "fd11::5"] as IpAddr[],
    },
  ],
};

export interface ConformanceHarness {
  readonly dataplane: Dataplane;
  readonly host: HostControl;
  readonly topology: BaselineTopology;
  /**
   * A route request as other programs send it and the Dataplane ops never do: `ip
   * route change` (NLM_F_REPLACE without NLM_F_CREATE), `ip route append`
   * (NLM_F_CREATE|NLM_F_APPEND) or `ip route prepend` (NLM_F_CREATE). The suite checks
   * both drivers give Linux's answers, and that kroute's ops keep such routes.
   */
  othersRouteRequest(route: KernelRoute, request: "change" | "append" | "prepend"): Promise<OpResult>;
  /** Closes the dataplane and removes everything the harness created. */
  cleanup(): Promise<void>;
}
