/** KernelLink / KernelAddress from ifinfomsg / ifaddrmsg. */
import type { KernelAddress, KernelLink } from "@kroute/core";
import { bytesToIp, familyOfAf } from "../address.ts";
import { IFF_LOWER_UP, IFF_UP } from "../codec/constants.ts";
import type { AddressMessage, LinkMessage } from "../codec/link.ts";
import { AF_UNSPEC } from "../ffi.ts";
import type { LinkNames } from "./names.ts";

/**
 * A link from a link message of family AF_UNSPEC. Undefined for the others: a bridge
 * announces its ports' membership as AF_BRIDGE link messages on the links' own group,
 * and its RTM_DELLINK means the port left the bridge, not that the link is gone.
 */
export function messageToLink(m: LinkMessage): KernelLink | undefined {
  if (m.family !== AF_UNSPEC || m.name === undefined) return undefined;
  return {
    index: m.index,
    name: m.name,
    up: (m.flags & IFF_UP) !== 0,
    carrier: (m.flags & IFF_LOWER_UP) !== 0,
  };
}

export function messageToAddress(m: AddressMessage, names: LinkNames): KernelAddress | undefined {
  if (familyOfAf(m.family) === undefined) return undefined;
  // IPv4 keeps the interface's own address in IFA_LOCAL (IFA_ADDRESS is the peer on point-to-point links).
  const bytes = m.local ?? m.address;
  if (bytes === undefined) return undefined;
  return { ip: bytesToIp(bytes), prefixLength: m.prefixLen, dev: names.nameOf(m.index) };
}
