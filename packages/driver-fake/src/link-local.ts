/**
 * The IPv6 link-local address Linux gives a link (addr_gen_mode eui64, the default;
 * checked with `ip` on 6.18): when the link is administratively up and has carrier,
 * not before, it gets fe80::<EUI-64 of its MAC>/64 and that address's connected route
 * `fe80::/64 proto kernel metric 256`; carrier loss keeps both, administrative down
 * drops them with the link's other IPv6 addresses (keep_addr_on_down 0), and the next
 * up with carrier makes the same address again. Loopback gets ::1 instead, which the
 * fake does not model, and no link-local address.
 *
 * The fake has no MACs. It imagines one per link from the ifindex, locally
 * administered (02:00 then the index's four bytes), and takes its EUI-64 as Linux
 * does: so ifindex 2 has fe80::ff:fe00:2. The form is Linux's (ff:fe in the middle,
 * never fe80::1 or another host-chosen gateway); the value is stable for a link's
 * life and the same in every replay, where Linux's depends on a MAC the recording
 * never kept.
 */
import { type IpAddr, type KernelLink, parseIp } from "@kroute/core";

export const LINK_LOCAL_PREFIX_LENGTH = 64;

/** Whether Linux would give the link its link-local address now. */
export function wantsLinkLocal(link: KernelLink): boolean {
  return link.name !== "lo" && link.up && link.carrier;
}

export function linkLocalAddress(index: number): IpAddr {
  if (!Number.isInteger(index) || index < 1 || index > 0xffffffff) {
    throw new Error(`invalid ifindex: ${index}`);
  }
  // MAC 02:00:aa:bb:cc:dd; EUI-64 clears the universal/local bit (02 -> 00) and puts
  // ff:fe between the third and fourth byte: 0000:aaff:febb:ccdd.
  const hex = (value: number): string => value.toString(16);
  const aa = index >>> 24;
  const bb = (index >>> 16) & 0xff;
  const ccdd = index & 0xffff;
  const parsed = parseIp(`fe80::${hex((aa << 8) | 0xff)}:${hex(0xfe00 | bb)}:${hex(ccdd)}`);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}
