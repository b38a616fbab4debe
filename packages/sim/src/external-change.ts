/**
 * Changes made to a node's kernel by someone else (a recorded or hand-written
 * `kernel/changed`), made to the fake kernel: only where it does not already show
 * them, so that an agent's echo of its own op changes nothing.
 */

import type { InlineNexthop, KernelChange, KernelRoute, Op } from "@kroute/core";
import type { FakeKernel } from "@kroute/driver-fake";

export function applyToFake(change: KernelChange, kernel: FakeKernel): void {
  switch (change.kind) {
    case "route":
      applyRouteChange(change, kernel);
      return;
    case "nexthop":
    case "rule": {
      const ops = externalOps(change, kernel);
      if (ops.length > 0) kernel.applySync(ops);
      return;
    }
    case "link": {
      const { name, up, carrier } = change.link;
      const current = kernel.listSync({}).links.find((l) => l.name === name);
      if (change.action === "del") {
        if (current !== undefined) kernel.deleteLink(name);
        return;
      }
      if (current === undefined) kernel.addLink(name);
      if (current?.up !== up) kernel.setAdminUp(name, up);
      if (current?.carrier !== carrier) kernel.setCarrier(name, carrier);
      return;
    }
    case "address": {
      const { ip, dev, prefixLength: length } = change.address;
      const present = kernel
        .listSync({})
        .addresses.some((a) => a.ip === ip && a.dev === dev && a.prefixLength === length);
      if (change.action === "new" && !present) kernel.addAddress(dev, ip, length);
      if (change.action === "del" && present) kernel.removeAddress(dev, ip, length);
      return;
    }
    case "overflow":
      return;
    default: {
      const unreachable: never = change;
      throw new Error(`unknown kernel change ${JSON.stringify(unreachable)}`);
    }
  }
}

/** A route change, made where the fake does not already show it. */
function applyRouteChange(change: KernelChange & { kind: "route" }, kernel: FakeKernel): void {
  const route = change.route;
  if (change.action === "del") {
    // The route the deletion names, not another at its key (driver-fake
    // route-removal.ts), nor the connected route a promoted secondary address made
    // again (address-removal.ts), recorded after the removed primary's deletion. One
    // the fake took already stays taken.
    kernel.removeAnnouncedRouteSync(route);
    return;
  }
  if (change.replaced !== true && addBeside(route, change.appended === true, kernel)) return;
  const current = kernel
    .listSync({ families: [route.family], tables: [route.table] })
    .routes.find((r) => r.dst === route.dst && r.metric === route.metric);
  if (current === undefined) kernel.applySync([{ object: "route", action: "add", to: route }]);
  else if (JSON.stringify(current) !== JSON.stringify(route))
    kernel.applySync([{ object: "route", action: "replace", from: current, to: route }]);
}

/**
 * A route announced at a key that holds one without replacing it: put there as it
 * was, with `ip route append` when the change says appended, else `ip route prepend`
 * (before the key's routes in IPv4), as the key's route stays. An IPv6 gateway joined
 * to the key's route is announced with the route's own gateways after it: only the
 * new ones are added. False when the key is free, or when the route is of an owner
 * there and not appended (kroute's own echo: kroute never appends); an appended one
 * of the same owner is another program's second route (`ip route append` of a second
 * static route, the same address's connected route on a second link).
 */
function addBeside(route: KernelRoute, appended: boolean, kernel: FakeKernel): boolean {
  const atKey = kernel
    .listSync({ families: [route.family], tables: [route.table] })
    .routes.filter(
      (r) => r.dst === route.dst && r.metric === route.metric && (r.tos ?? 0) === (route.tos ?? 0),
    );
  if (atKey.length === 0 || (!appended && atKey.some((r) => r.protocol === route.protocol))) return false;
  const held = new Set(
    atKey.flatMap((r) => (r.target.kind === "gateways" ? r.target.nexthops : [])).map(hop),
  );
  const joined =
    route.target.kind === "gateways"
      ? {
          ...route,
          target: { ...route.target, nexthops: route.target.nexthops.filter((h) => !held.has(hop(h))) },
        }
      : route;
  if (joined.target.kind === "gateways" && joined.target.nexthops.length === 0) return true;
  kernel.routeRequestSync(joined, appended ? "append" : "prepend");
  return true;
}

const hop = (nexthop: InlineNexthop): string => `${nexthop.gateway}@${nexthop.dev}`;

/** The ops that make the fake kernel show a recorded change, or none when it already does. */
function externalOps(change: KernelChange & { kind: "nexthop" | "rule" }, kernel: FakeKernel): Op[] {
  switch (change.kind) {
    case "nexthop": {
      const nh = change.nexthop;
      const current = kernel.listSync({}).nexthops.find((n) => n.id === nh.id);
      if (change.action === "del")
        return current === undefined ? [] : [{ object: "nexthop", action: "delete", from: current }];
      if (current === undefined) return [{ object: "nexthop", action: "add", to: nh }];
      return JSON.stringify(current) === JSON.stringify(nh)
        ? []
        : [{ object: "nexthop", action: "replace", from: current, to: nh }];
    }
    case "rule": {
      const rule = change.rule;
      const present = kernel.listSync({}).rules.some((r) => JSON.stringify(r) === JSON.stringify(rule));
      if (change.action === "del") return present ? [{ object: "rule", action: "delete", from: rule }] : [];
      return present ? [] : [{ object: "rule", action: "add", to: rule }];
    }
  }
}
