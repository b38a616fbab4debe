/**
 * How a simulated node starts: its links, addresses and pre-existing routes (the
 * default route a DHCP client or cloud-init installed, say), so the fake begins
 * like a real host rather than empty.
 */
import type {
  DataplaneFeatures,
  Family,
  IpAddr,
  KernelRoute,
  KernelRule,
  MultipathHashPolicy,
} from "@kroute/core";

export interface HostLinkDescription {
  readonly name: string;
  /** Administratively up; default true. */
  readonly up?: boolean;
  /** Carrier present; default true. */
  readonly carrier?: boolean;
}

export interface HostAddressDescription {
  readonly dev: string;
  readonly ip: IpAddr;
  readonly prefixLength: number;
}

export interface HostDescription {
  /** `lo` always exists (index 1) and need not be listed. */
  readonly links?: readonly HostLinkDescription[];
  readonly addresses?: readonly HostAddressDescription[];
  /** Installed after links and addresses, with the same checks as any route add. */
  readonly routes?: readonly KernelRoute[];
  /** Rules beyond Linux's defaults (local, main, default). */
  readonly rules?: readonly KernelRule[];
  /** Default: a 6.x kernel, with nexthop objects and resilient groups. */
  readonly features?: DataplaneFeatures;
  /** Default 0 (L3) for both families, as Linux. */
  readonly multipathHashPolicy?: Partial<Record<Family, MultipathHashPolicy>>;
  /**
   * net.ipv4.conf.all.promote_secondaries: whether removing a subnet's primary IPv4
   * address promotes its first secondary (true) or removes every secondary with it
   * (false, the kernel's own default). Default true, as systemd's sysctl.d
   * (50-default.conf) sets it on the hosts kroute runs on; and a log recorded on a
   * host that removes the secondaries lists each removal before the primary's, so a
   * fake that promotes replays it alike (secondary-addresses.ts).
   */
  readonly promoteSecondaries?: boolean;
}
