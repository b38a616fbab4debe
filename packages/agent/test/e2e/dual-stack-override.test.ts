/**
 * Default-route overrides on a dual-stack node, end to end (API double + agent + a real
 * kernel in a fresh namespace): the node's IPv6 way out is a link-local router learned
 * from router advertisements (proto ra, metric 1024), as clouds give it; its API server
 * and one of its resolvers are IPv6 addresses.
 */
import { writeFileSync } from "node:fs";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { eventually, kernelRoutes, route, routeGet, worldPerTest } from "./e2e-support.ts";

const NODE_V6 = "fd00::5";
const API_SERVER_V6 = "2001:db8:a::10";
const RESOLVER_V6 = "2001:db8:53::53";
const INTERNET_V6 = "2001:db8:ffff::1";

describeAsRoot("dual-stack default-route overrides (API double + kernel namespace)", () => {
  const { world: w, startAgent } = worldPerTest(async (world) => {
    world.api.apply({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "kubernetes-ipv6",
        namespace: "default",
        labels: { "kubernetes.io/service-name": "kubernetes" },
      },
      addressType: "IPv6",
      endpoints: [{ addresses: [API_SERVER_V6], conditions: { ready: true } }],
      ports: [{ name: "https", port: 6443, protocol: "TCP" }],
    });
    writeFileSync(world.resolvConf, `nameserver 198.51.100.53\nnameserver ${RESOLVER_V6}\n`);
    await world.ns.ipBatch([
      `addr add ${NODE_V6}/64 dev eth0 nodad`,
      "route add ::/0 via fe80::2 dev eth0 proto ra metric 1024",
    ]);
  });

  it("overrides an RA-learned IPv6 default route, keeping the IPv6 API server, resolver and replies on its router", async () => {
    w().api.apply(route("egress", { destinations: ["::/0"], gateways: ["fd00::3", "fd00::4"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main ::/0": ["fd00::3", "fd00::4"],
        [`main ${API_SERVER_V6}`]: ["fe80::2"],
        [`main ${RESOLVER_V6}`]: ["fe80::2"],
        "135 ::/0": ["fe80::2"],
      }),
    );
    expect(["fd00::3", "fd00::4"]).toContain(await routeGet(w().ns, INTERNET_V6));
    expect(await routeGet(w().ns, API_SERVER_V6)).toBe("fe80::2");
    expect(await routeGet(w().ns, RESOLVER_V6)).toBe("fe80::2");
    expect(await routeGet(w().ns, INTERNET_V6, NODE_V6)).toBe("fe80::2");
    expect(await routeGet(w().ns, "fd00::20", NODE_V6)).toBe("dev eth0");
    const original = await w().ns.ipJson<{ gateway: string; metric: number; protocol: string }[]>(
      "-6",
      "route",
      "show",
      "default",
      "proto",
      "ra",
    );
    expect(original).toEqual([expect.objectContaining({ gateway: "fe80::2", metric: 1024 })]);

    w().api.delete("Route", "egress");
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
    expect(await routeGet(w().ns, INTERNET_V6)).toBe("fe80::2");
  });

  it("keeps the node's IPv6 replies on its router under a Route's own ::/1 and 8000::/1", async () => {
    w().api.apply(route("vpn", { destinations: ["::/1", "8000::/1"], gateways: ["fd00::3", "fd00::4"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main ::/1": ["fd00::3", "fd00::4"],
        "main 8000::/1": ["fd00::3", "fd00::4"],
        [`main ${API_SERVER_V6}`]: ["fe80::2"],
        [`main ${RESOLVER_V6}`]: ["fe80::2"],
        "135 ::/1": ["fe80::2"],
        "135 8000::/1": ["fe80::2"],
      }),
    );
    expect(["fd00::3", "fd00::4"]).toContain(await routeGet(w().ns, INTERNET_V6));
    expect(["fd00::3", "fd00::4"]).toContain(await routeGet(w().ns, "c000::1"));
    // The node's replies to inbound connections, in either half, keep its router.
    expect(await routeGet(w().ns, INTERNET_V6, NODE_V6)).toBe("fe80::2");
    expect(await routeGet(w().ns, "c000::1", NODE_V6)).toBe("fe80::2");
    expect(await routeGet(w().ns, "fd00::20", NODE_V6)).toBe("dev eth0");

    w().api.delete("Route", "vpn");
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
    expect(await w().ns.ipJson<unknown[]>("-6", "rule", "show", "table", "135")).toEqual([]);
  });

  it("stops taking an RA-learned router for the original once its route expires, before the kernel deletes it", async () => {
    // The router stops advertising: its route expires, and Linux keeps listing it, unused,
    // without a word until its garbage collector deletes it. The collector is held off
    // here (10 minutes), so only kroute's own re-read at the expiry can see the change.
    await w().ns.exec("sysctl", ["-q", "-w", "net.ipv6.route.gc_interval=600"]);
    await w().ns.ipBatch([
      "route del ::/0 via fe80::2 dev eth0",
      "route add ::/0 via fe80::2 dev eth0 proto ra metric 1024 expires 6",
      // Another router, the way out once the first one's route is gone.
      "route add ::/0 via fe80::9 dev eth0 proto static metric 2048",
    ]);
    w().api.apply(route("egress", { destinations: ["::/0"], gateways: ["fd00::3", "fd00::4"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toMatchObject({
        [`main ${API_SERVER_V6}`]: ["fe80::2"],
        "135 ::/0": ["fe80::2"],
      }),
    );

    await eventually(
      async () =>
        expect(await kernelRoutes(w().ns)).toEqual({
          "main ::/0": ["fd00::3", "fd00::4"],
          [`main ${API_SERVER_V6}`]: ["fe80::9"],
          [`main ${RESOLVER_V6}`]: ["fe80::9"],
          "135 ::/0": ["fe80::9"],
        }),
      15_000,
    );
    expect(await w().ns.ip("-6", "route", "show", "default", "proto", "ra")).toMatch(
      /via fe80::2 dev eth0 .*expires -\d+sec/,
    );
    expect(await routeGet(w().ns, API_SERVER_V6)).toBe("fe80::9");
    expect(await routeGet(w().ns, INTERNET_V6, NODE_V6)).toBe("fe80::9");
  });

  it("takes an IPv4 default route via an IPv6 next hop (RFC 5549) for the IPv4 original, not the IPv6 one", async () => {
    // A BGP-unnumbered host: its IPv4 way out is a router's link-local address, with a
    // metric kroute's cannot undercut; its IPv6 way out is another router.
    await w().ns.ip("-4", "route", "del", "default");
    await w().ns.ip(
      "-4",
      "route",
      "add",
      "0.0.0.0/0",
      "via",
      "inet6",
      "fe80::1",
      "dev",
      "eth0",
      "proto",
      "bgp",
      "metric",
      "20",
    );
    w().api.apply(
      route("egress", { destinations: ["0.0.0.0/0", "::/0"], gateways: ["10.0.0.3", "fd00::3", "fd00::4"] }),
    );
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        // IPv4: split (metric 20), its protections and replies via the IPv4 original.
        "main 0.0.0.0/1": ["10.0.0.3"],
        "main 128.0.0.0/1": ["10.0.0.3"],
        "main 192.0.2.10": ["fe80::1"],
        "main 198.51.100.53": ["fe80::1"],
        "main 169.254.169.254": ["fe80::1"],
        "135 default": ["fe80::1"],
        // IPv6: a second default route (1024 can be undercut), protections and replies via its own router.
        "main ::/0": ["fd00::3", "fd00::4"],
        [`main ${API_SERVER_V6}`]: ["fe80::2"],
        [`main ${RESOLVER_V6}`]: ["fe80::2"],
        "135 ::/0": ["fe80::2"],
      }),
    );
    expect(await routeGet(w().ns, "8.8.8.8")).toBe("10.0.0.3");
    expect(await routeGet(w().ns, "192.0.2.10")).toBe("fe80::1");
    expect(await routeGet(w().ns, "8.8.8.8", "10.0.0.5")).toBe("fe80::1");
    expect(["fd00::3", "fd00::4"]).toContain(await routeGet(w().ns, INTERNET_V6));
    expect(await routeGet(w().ns, API_SERVER_V6)).toBe("fe80::2");
    expect(await routeGet(w().ns, INTERNET_V6, NODE_V6)).toBe("fe80::2");

    w().api.delete("Route", "egress");
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
    expect(await routeGet(w().ns, "8.8.8.8")).toBe("fe80::1");
  });
});
