/**
 * sockaddr_in / sockaddr_in6 for the ICMP sockets: encoding a gateway to send to, and
 * reading back who answered; sockaddr_ll for sending to a gateway's link-layer address.
 */
import { addressBits, type Family, formatAddress, type IpAddr } from "@kroute/core";
import { AF_INET, AF_INET6, AF_PACKET } from "../ffi.ts";

/** sizeof(struct sockaddr_in6): large enough for either family. */
export const SOCKADDR_MAX = 28;

/**
 * `scopeId`: for an IPv6 link-local address, the index of the device it is on (fe80::1
 * is a different host on every link); 0, the default, leaves the choice to the kernel.
 */
export function encodeSockaddr(address: IpAddr, scopeId = 0): Uint8Array {
  const parsed = addressBits(address);
  if (parsed === undefined) throw new Error(`icmp: not an IP address: ${JSON.stringify(address)}`);
  if (parsed.family === 4) {
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setUint16(0, AF_INET, true); // sa_family is host order (little endian here)
    view.setUint32(4, parsed.bits, false);
    return out;
  }
  const out = new Uint8Array(SOCKADDR_MAX);
  const view = new DataView(out.buffer);
  view.setUint16(0, AF_INET6, true);
  for (let i = 0; i < 16; i++) out[8 + i] = Number((parsed.bits >> BigInt(8 * (15 - i))) & 0xffn);
  view.setUint32(24, scopeId, true); // sin6_scope_id, host order
  return out;
}

/**
 * The address in a sockaddr filled by recvfrom, or undefined for another family;
 * `scopeId` is the receiving device's index for an IPv6 link-local source, else 0.
 */
export function decodeSockaddr(
  data: Uint8Array,
  length: number,
): { family: Family; address: IpAddr; scopeId: number } | undefined {
  if (length < 2) return undefined;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const family = view.getUint16(0, true);
  if (family === AF_INET && length >= 8) {
    return {
      family: 4,
      address: formatAddress({ family: 4, bits: view.getUint32(4, false) }),
      scopeId: 0,
    };
  }
  if (family === AF_INET6 && length >= 24) {
    let bits = 0n;
    for (let i = 0; i < 16; i++) bits = (bits << 8n) | BigInt(data[8 + i] ?? 0);
    const scopeId = length >= SOCKADDR_MAX ? view.getUint32(24, true) : 0;
    return { family: 6, address: formatAddress({ family: 6, bits }), scopeId };
  }
  return undefined;
}

const ETH_P_IPV6 = 0x86dd;
/** MAX_ADDR_LEN: no device has a longer link-layer address. */
const LINK_ADDRESS_MAX = 32;
/** sockaddr_ll's sll_addr holds 8 bytes; sll_addr starts at byte 12. */
const SLL_ADDR_OFFSET = 12;
const SLL_ADDR_LENGTH = 8;

/**
 * sockaddr_ll for sending an IPv6 datagram out of device `ifindex` to link-layer
 * address `linkAddress`. A longer address than sll_addr's 8 bytes (IPoIB's 20) runs
 * past the struct, as Linux's packet_snd takes it: the name's length covers it.
 */
export function encodeSockaddrLl(ifindex: number, linkAddress: Uint8Array): Uint8Array {
  if (linkAddress.length > LINK_ADDRESS_MAX)
    throw new Error(`icmp: link-layer address of ${linkAddress.length} bytes, at most ${LINK_ADDRESS_MAX}`);
  const out = new Uint8Array(SLL_ADDR_OFFSET + Math.max(SLL_ADDR_LENGTH, linkAddress.length));
  const view = new DataView(out.buffer);
  view.setUint16(0, AF_PACKET, true);
  view.setUint16(2, ETH_P_IPV6, false); // sll_protocol, network order
  view.setInt32(4, ifindex, true);
  out[11] = linkAddress.length; // sll_halen
  out.set(linkAddress, SLL_ADDR_OFFSET);
  return out;
}
