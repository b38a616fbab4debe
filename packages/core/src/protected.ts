/**
 * Destinations kroute refuses to route (SPEC §3 item 7). A destination equal to or
 * inside one of these is refused for that destination only; a broader prefix that
 * merely contains one (0.0.0.0/0, 0.0.0.0/5) is allowed, because the kernel's more
 * specific local and connected routes keep winning for the protected part.
 */
import { type Prefix, prefixContains } from "./ip.ts";

export interface ProtectedRange {
  readonly prefix: Prefix;
  /** Why it is protected, as shown to the operator. */
  readonly name: string;
  /** Whether a gateway address may lie in it (IPv6 gateways are often link-local). */
  readonly gatewayAllowed: boolean;
}

const range = (prefix: string, name: string, gatewayAllowed = false): ProtectedRange => ({
  prefix: prefix as Prefix,
  name,
  gatewayAllowed,
});

export const BUILTIN_PROTECTED: readonly ProtectedRange[] = [
  // RFC 1122 "this host on this network": never a valid destination or source on the wire.
  range("0.0.0.0/8", "'this network'"),
  range("127.0.0.0/8", "loopback"),
  // Includes the cloud metadata address 169.254.169.254, which the default-route
  // override pins to the original gateway instead.
  range("169.254.0.0/16", "link-local", true),
  range("224.0.0.0/4", "multicast"),
  range("255.255.255.255/32", "limited broadcast"),
  range("::/128", "unspecified address"),
  range("::1/128", "loopback"),
  range("fe80::/10", "link-local", true),
  range("ff00::/8", "multicast"),
];

/**
 * Why `prefix` may not be routed, or undefined when it may. `configured` are the
 * agent's extra protected prefixes (cluster pod and service CIDRs, say).
 */
export function protectedReason(prefix: Prefix, configured: readonly Prefix[]): string | undefined {
  const builtin = BUILTIN_PROTECTED.find((r) => prefixContains(r.prefix, prefix));
  if (builtin !== undefined)
    return `${prefix} lies within ${builtin.prefix} (${builtin.name}), which is never routed`;
  const extra = configured.find((p) => prefixContains(p, prefix));
  if (extra !== undefined) return `${prefix} lies within the configured protected prefix ${extra}`;
  return undefined;
}
