/**
 * What the override checks (check-override.ts) need of a node's protected addresses,
 * built once per distinct set of them and shared by every node that names the same set
 * (a cluster's nodes name one API server, the same resolvers and metadata address).
 *
 * Why shared, not per node: the checks run at every step, and which of the thousands of
 * route objects (shared by every node) hold a protected address was asked per node's
 * host facts, one cache entry per node and route object: a hundred megabytes at 1,000
 * nodes, and the prefixes holding each address were built again at every check.
 */
import {
  type AddressBits,
  addressBits,
  type EventOf,
  familyOf,
  type IpAddr,
  type KernelRoute,
  maskedAddress,
  maxPrefixLength,
  networkPrefix,
  type Prefix,
  prefixAddress,
  prefixLength,
  routeKey,
} from "@kroute/core";

type Host = EventOf<"host/observed">;

export interface ProtectedAddress {
  readonly address: IpAddr;
  readonly family: 4 | 6;
}

export interface ProtectedView {
  readonly addresses: readonly ProtectedAddress[];
  /**
   * For each address (in the order of `addresses`), the routeKey()s of main-table routes
   * at `metric` holding it without being a default route (/1 to one bit short of a host
   * route): what the owned mirror is asked, with no index of its own per node.
   */
  mainTableHolderKeys(metric: number): readonly (readonly string[])[];
  /** Whether a route's destination holds one of the addresses (or is one's host prefix). */
  holds(route: KernelRoute): boolean;
}

/** The addresses a default-route override must not capture (host facts; host prefixes of `protect`). */
export function protectedAddresses(host: Host | undefined): IpAddr[] {
  if (host === undefined) return [];
  return [
    ...host.apiServers,
    ...host.dns,
    ...host.protect.filter((p) => prefixLength(p) === maxPrefixLength(familyOf(p))).map(prefixAddress),
  ];
}

const MAIN_TABLE = 254;

const byAddresses = new Map<string, ProtectedView>();
const byHost = new WeakMap<Host, ProtectedView>();
const NO_HOST = {} as Host;

export function protectedView(host: Host | undefined): ProtectedView {
  const key = host ?? NO_HOST;
  let view = byHost.get(key);
  if (view === undefined) {
    view = addressesView(protectedAddresses(host));
    byHost.set(key, view);
  }
  return view;
}

/** The view of a list of addresses, shared by every caller naming the same list. */
export function addressesView(addresses: readonly IpAddr[]): ProtectedView {
  const name = addresses.join(" ");
  let view = byAddresses.get(name);
  if (view === undefined) {
    view = createView(addresses);
    byAddresses.set(name, view);
  }
  return view;
}

function createView(addresses: readonly IpAddr[]): ProtectedView {
  const parsed = addresses.flatMap((address) => {
    const bits = addressBits(address);
    return bits === undefined ? [] : [{ address, family: familyOf(address), bits }];
  });
  const watched = parsed.map((p) => p.bits);
  // Route objects are shared by every node and come back in every batch that moves them.
  const holding = new WeakMap<KernelRoute, boolean>();
  const keysByMetric = new Map<number, readonly (readonly string[])[]>();
  return {
    addresses: parsed.map(({ address, family }) => ({ address, family })),
    mainTableHolderKeys(metric) {
      let keys = keysByMetric.get(metric);
      if (keys === undefined) {
        keys = parsed.map(({ family, bits }) => {
          const holders: string[] = [];
          for (let length = 1; length < maxPrefixLength(family); length++)
            holders.push(routeKey({ family, table: MAIN_TABLE, dst: networkPrefix(bits, length), metric }));
          return holders;
        });
        keysByMetric.set(metric, keys);
      }
      return keys;
    },
    holds(route) {
      let holds = holding.get(route);
      if (holds === undefined) {
        holds = holdsAny(route.dst, watched);
        holding.set(route, holds);
      }
      return holds;
    },
  };
}

/** Whether `dst` holds one of the addresses (or is one's host prefix). */
function holdsAny(dst: Prefix, watched: readonly AddressBits[]): boolean {
  if (watched.length === 0) return false;
  const length = prefixLength(dst);
  // One parse per prefix, not one per protected address.
  const network = addressBits(prefixAddress(dst));
  if (network === undefined) return true;
  // Prefixes are canonical (host bits clear), so the address's network equals it when inside.
  return watched.some(
    (address) => address.family === network.family && maskedAddress(address, length).bits === network.bits,
  );
}
