/**
 * Objects of others in what kroute uses (its nexthop id range, its route keys, its
 * rule priorities): the agent leaves them as they are, on a real kernel in a fresh
 * network namespace, checked with `ip`.
 */
import { DEFAULT_SETTINGS, fnv1a } from "@kroute/core";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { eventually, kernelRoutes, NODE, route, routeGet, worldPerTest } from "./e2e-support.ts";

/** An id of kroute's range that its objects here do not use (ids are hashes of the gateways). */
const FREE_ID_IN_RANGE = DEFAULT_SETTINGS.nexthopIdBase + 1;

describeAsRoot("the agent and objects it does not own (kernel namespace)", () => {
  const { world: w, startAgent } = worldPerTest();

  /** A restart lays its objects out around theirs as before: it adopts them, writing nothing. */
  async function restartWritesNothing(): Promise<void> {
    // The kernel adds a local route for each IPv6 address once its duplicate address
    // detection ends (a second or more after a link comes up): both dumps come after it.
    await eventually(async () => expect(await w().ns.ip("-6", "addr", "show", "tentative")).toBe(""));
    const routes = await w().ns.ip("-d", "route", "show", "table", "all");
    const nexthops = await w().ns.ip("nexthop", "show");
    const agent = await startAgent();
    await agent.ready;
    await new Promise((r) => setTimeout(r, 500));
    expect(agent.opsWritten()).toBe(0);
    expect(await w().ns.ip("-d", "route", "show", "table", "all")).toBe(routes);
    expect(await w().ns.ip("nexthop", "show")).toBe(nexthops);
  }

  it("leaves another protocol's nexthop at a free id of its range, through a resync and a change", async () => {
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] }),
    );

    const id = String(FREE_ID_IN_RANGE);
    await w().ns.ip("nexthop", "add", "id", id, "via", "10.0.0.9", "dev", "eth0", "proto", "202");
    const theirs = await w().ns.ip("nexthop", "show", "id", id);
    w().api.apply(route("b", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.4"] }));
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main 198.18.0.0/24": ["10.0.0.3"],
        "main 198.18.1.0/24": ["10.0.0.4"],
      }),
    );
    // Past a periodic resync (2 s here) too.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await w().ns.ip("nexthop", "show", "id", id)).toBe(theirs);
  });

  it("moves off an id another protocol's nexthop took from one of its own: its route goes through a free id, theirs is untouched", async () => {
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.7"] }));
    // No periodic resync in the test's time: the change notification alone must tell.
    const agent = await startAgent(["--resync-interval=1h"]);
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.7"] }),
    );
    const [ours] = await w().ns.ipJson<{ id: number }[]>("nexthop", "show", "proto", "201");
    const id = String(ours!.id);

    await w().ns.ip("nexthop", "replace", "id", id, "via", "10.0.0.9", "dev", "eth0", "proto", "202");
    const theirs = `id ${id} via 10.0.0.9 dev eth0 scope link proto 202`;
    await eventually(async () => {
      const [moved] = await w().ns.ipJson<{ id: number }[]>("nexthop", "show", "proto", "201");
      expect(moved?.id).not.toBe(ours!.id);
      const [ipRoute] = await w().ns.ipJson<{ nhid?: number }[]>("route", "show", "198.18.0.0/24");
      expect(ipRoute?.nhid).toBe(moved?.id);
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.7"] });
    });
    expect((await w().ns.ip("nexthop", "show", "id", id)).trim()).toBe(theirs);
    expect(agent.state().failures).toEqual({});
    await restartWritesNothing();
  });

  it("programs a Route through another id when another protocol's blackhole sits at the id it would use", async () => {
    // The id kroute gives the gateway: its key's home slot in the range (core nexthop-ids.ts).
    const { nexthopIdBase: base, nexthopIdCount: count } = DEFAULT_SETTINGS;
    const slot = fnv1a("gw|10.0.0.3|eth0") % count;
    const home = base + slot;
    // Linear probing: the next id of the range.
    const next = base + ((slot + 1) % count);
    await w().ns.ip("link", "set", "lo", "up");
    await w().ns.ip("nexthop", "add", "id", String(home), "blackhole", "proto", "99");
    const theirs = await w().ns.ip("nexthop", "show", "id", String(home));
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] }),
    );
    const nhid = async () =>
      (await w().ns.ipJson<{ nhid?: number }[]>("route", "show", "198.18.0.0/24"))[0]?.nhid;
    expect(await nhid()).toBe(next);
    expect(await routeGet(w().ns, "198.18.0.1")).toBe("10.0.0.3");
    await eventually(() => {
      const table = w().api.get("NodeRouteTable", NODE) as { status?: unknown } | undefined;
      expect(table?.status).toMatchObject({ programmed: 1, failed: 0 });
    });
    expect(agent.state().failures).toEqual({});
    // Past a periodic resync (2 s here) too, theirs as it was.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await w().ns.ip("nexthop", "show", "id", String(home))).toBe(theirs);
    expect(await nhid()).toBe(next);
    await restartWritesNothing();
  });

  it("takes back the id of another's device-only nexthop once its link's carrier loss took it, though Linux announced nothing", async () => {
    const { nexthopIdBase: base, nexthopIdCount: count } = DEFAULT_SETTINGS;
    const slot = fnv1a("gw|10.0.0.3|eth0") % count;
    const home = base + slot;
    const next = base + ((slot + 1) % count);
    await w().ns.ipBatch([
      "link add eth9 type veth peer name eth9p",
      "link set eth9p up",
      "link set eth9 up",
    ]);
    await w().ns.ip("nexthop", "add", "id", String(home), "dev", "eth9", "proto", "99");
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"] }));
    // No periodic resync in the test's time: the link notification alone must tell.
    const agent = await startAgent(["--resync-interval=1h"]);
    await agent.ready;
    const nhid = async () =>
      (await w().ns.ipJson<{ nhid?: number }[]>("route", "show", "198.18.0.0/24"))[0]?.nhid;
    await eventually(async () => expect(await nhid()).toBe(next));

    await w().ns.ip("link", "set", "eth9p", "down");
    await eventually(async () => expect(await nhid()).toBe(home));
    expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] });
    expect(agent.state().failures).toEqual({});
  });
});
