/**
 * The multipath hash of a flow. Not Linux's jhash bit for bit (the fake promises the
 * properties, not the bits): a deterministic 31-bit value of the fields the family's
 * hash policy names, well mixed so nearby flows spread evenly.
 */
import type { FlowQuery, MultipathHashPolicy } from "@kroute/core";

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
function mix(hash: number): number {
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** Policy 0 (and 2, inner L3, which this fake treats as 0) hashes addresses; 1 adds protocol and ports. */
export function flowHash(flow: FlowQuery, policy: MultipathHashPolicy): number {
  const l3 = `${flow.src ?? ""}>${flow.dst}`;
  const key = policy === 1 ? `${l3}|${flow.ipProto ?? 0}|${flow.sport ?? 0}|${flow.dport ?? 0}` : l3;
  return mix(fnv1a(key)) >>> 1;
}
