/** A namespace's kroute-owned routes as `ip` reports them, resolved to gateways (the `--json` route shape). */
import { comparePrefixes, type Prefix } from "@kroute/core";
import type { Netns } from "@kroute/lab";
import type { JsonRoute } from "../render.ts";

interface IpRoute {
  readonly dst: string;
  readonly table?: string;
  readonly gateway?: string;
  readonly nhid?: number;
  readonly nexthops?: readonly { readonly gateway?: string }[];
}

interface IpNexthop {
  readonly id: number;
  readonly gateway?: string;
  readonly group?: readonly { readonly id: number }[];
}

const TABLE_NAMES: Readonly<Record<string, number>> = { main: 254, local: 255, default: 253 };

function canonicalDst(dst: string, family: 4 | 6): Prefix {
  if (dst === "default") return (family === 4 ? "0.0.0.0/0" : "::/0") as Prefix;
  return (dst.includes("/") ? dst : `${dst}/${family === 4 ? 32 : 128}`) as Prefix;
}

export async function kernelRoutes(ns: Netns, protocol: number): Promise<JsonRoute[]> {
  const nexthops = await ns.ipJson<IpNexthop[]>("nexthop", "show");
  const byId = new Map(nexthops.map((n) => [n.id, n]));
  const resolve = (id: number): string[] => {
    const nh = byId.get(id);
    if (nh === undefined) return [`missing-nexthop-${id}`];
    if (nh.group !== undefined) return nh.group.flatMap((m) => resolve(m.id));
    return nh.gateway === undefined ? [] : [nh.gateway];
  };
  const out: (JsonRoute & { family: number })[] = [];
  for (const family of [4, 6] as const) {
    const routes = await ns.ipJson<IpRoute[]>(
      `-${family}`,
      "route",
      "show",
      "table",
      "all",
      "proto",
      String(protocol),
    );
    for (const r of routes) {
      const gateways =
        r.nhid !== undefined
          ? resolve(r.nhid)
          : r.nexthops !== undefined
            ? r.nexthops.flatMap((n) => (n.gateway === undefined ? [] : [n.gateway]))
            : r.gateway !== undefined
              ? [r.gateway]
              : [];
      const table = r.table === undefined ? 254 : (TABLE_NAMES[r.table] ?? Number(r.table));
      out.push({ family, dst: canonicalDst(r.dst, family), table, gateways: [...new Set(gateways)].sort() });
    }
  }
  out.sort(
    (a, b) => a.table - b.table || a.family - b.family || comparePrefixes(a.dst as Prefix, b.dst as Prefix),
  );
  return out.map(({ dst, table, gateways }) => ({ dst, table, gateways }));
}

/** The table as `ip route` prints it, for people. */
export async function kernelTableText(ns: Netns, protocol: number): Promise<string[]> {
  const lines: string[] = [];
  for (const family of ["-4", "-6"]) {
    const text = await ns.ip(family, "route", "show", "table", "all", "proto", String(protocol));
    lines.push(...text.split("\n").filter((l) => l.trim() !== ""));
  }
  // Filtered here: `ip rule show proto N` is not understood by every iproute2.
  const rules = await ns.ip("rule", "show");
  const owned = rules.split("\n").filter((l) => l.includes(`proto ${protocol}`));
  lines.push(...owned.map((l) => `rule ${l.trim()}`));
  return lines;
}
