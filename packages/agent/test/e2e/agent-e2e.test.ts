/**
 * The agent end to end: Kubernetes API double (real HTTP) → agent in-process →
 * netlink driver → a real kernel in a fresh network namespace, checked with `ip`.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { chartAdmission, loggedWrite } from "../deploy/admission-policy.ts";
import { compileCrdSchema } from "../deploy/crd-schema.ts";
import { chartGrants, grantsNeeded } from "../deploy/rbac.ts";
import { capturedLog } from "../runtime/harness.ts";
import { eventually, kernelRoutes, NODE, route, routeGet, type World, worldPerTest } from "./e2e-support.ts";

// biome-ignore lint/suspicious/noExplicitAny: objects read back from the API double are navigated dynamically
type Loose = any;

const crds = parseAllDocuments(
  readFileSync(
    join(import.meta.dirname, "../../../../deploy/helm/kroute/crds/networking.kroute.dev.yaml"),
    "utf8",
  ),
).map((d) => d.toJS() as Loose);
/** The NodeRouteTable as the CRD's schema sees it: what the agent writes must pass admission. */
const nodeRouteTableSchema = compileCrdSchema(
  crds.find((c) => c.spec.names.kind === "NodeRouteTable").spec.versions[0].schema.openAPIV3Schema,
);

/** The Events written, as "Reason: note". */
function eventNotes(world: World): string[] {
  return world.api.list("Event", "default").map((e) => `${(e as Loose).reason}: ${(e as Loose).note}`);
}

describeAsRoot("agent end to end (API double + kernel namespace)", () => {
  const { world: w, startAgent } = worldPerTest();

  it("creates, updates gateways, destinations and selector, and deletes a Route", async () => {
    w().api.apply(route("egress", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3", "10.0.0.4"] }),
    );

    w().api.apply(route("egress", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.4", "10.0.0.6"] }));
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.4", "10.0.0.6"] }),
    );

    w().api.apply(
      route("egress", {
        destinations: ["198.18.1.0/24", "203.0.113.7"],
        gateways: ["10.0.0.4", "10.0.0.6"],
      }),
    );
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main 198.18.1.0/24": ["10.0.0.4", "10.0.0.6"],
        "main 203.0.113.7": ["10.0.0.4", "10.0.0.6"],
      }),
    );

    const elsewhere = {
      nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: ["b"] }] }],
    };
    w().api.apply(
      route("egress", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.4"], nodeSelector: elsewhere }),
    );
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));

    const here = {
      nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [NODE] }] }],
    };
    w().api.apply(
      route("egress", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.4"], nodeSelector: here }),
    );
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.1.0/24": ["10.0.0.4"] }),
    );
    expect(await routeGet(w().ns, "198.18.1.20")).toBe("10.0.0.4");

    w().api.delete("Route", "egress");
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
  });

  it("moves a Route on and off the node as the node's labels change", async () => {
    const pool = (value: string) => ({
      nodeSelectorTerms: [{ matchExpressions: [{ key: "pool", operator: "In", values: [value] }] }],
    });
    w().api.apply(
      route("pool-b", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"], nodeSelector: pool("b") }),
    );
    const agent = await startAgent();
    await agent.ready;
    await new Promise((r) => setTimeout(r, 300));
    expect(await kernelRoutes(w().ns)).toEqual({});

    w().api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: NODE, labels: { pool: "b" } } });
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] }),
    );

    w().api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: NODE, labels: { pool: "c" } } });
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
  });

  it("restarts with unchanged Routes without one kernel write, and prunes what was deleted meanwhile", async () => {
    w().api.apply(
      route("a", {
        destinations: ["198.18.0.0/24", "2001:db8::/48"],
        gateways: ["10.0.0.3", "10.0.0.4", "fd00::3"],
      }),
    );
    w().api.apply(route("b", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.3"] }));
    await w().ns.ip("-6", "addr", "add", "fd00::5/64", "dev", "eth0", "nodad");
    let agent = await startAgent();
    await agent.ready;
    const expected = {
      "main 198.18.0.0/24": ["10.0.0.3", "10.0.0.4"],
      "main 198.18.1.0/24": ["10.0.0.3"],
      "main 2001:db8::/48": ["fd00::3"],
    };
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual(expected));
    // The kernel adds a local route for each IPv6 address once its duplicate address
    // detection ends (about a second after a link comes up, later under load): the
    // dumps compared below must both come after it.
    await eventually(async () => expect(await w().ns.ip("-6", "addr", "show", "tentative")).toBe(""));
    const dump = await w().ns.ip("-d", "route", "show", "table", "all");
    const nexthops = await w().ns.ip("nexthop", "show");
    await agent.stop();

    const restarted = Date.now();
    agent = await startAgent();
    await agent.ready;
    // The restarted agent reports its first sync (the NodeRouteTable's lastSync, at the
    // first step with the kernel holding the desired table: nothing left to write) only
    // after any write its first reconcile needed was made and seen back from the kernel.
    await eventually(() => {
      const lastSync = (w().api.get("NodeRouteTable", NODE) as Loose)?.status?.lastSync;
      expect(Date.parse(lastSync ?? "")).toBeGreaterThanOrEqual(restarted);
    });
    expect(agent.opsWritten()).toBe(0);
    expect(await w().ns.ip("-d", "route", "show", "table", "all")).toBe(dump);
    expect(await w().ns.ip("nexthop", "show")).toBe(nexthops);
    await agent.stop();

    w().api.delete("Route", "b");
    agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main 198.18.0.0/24": ["10.0.0.3", "10.0.0.4"],
        "main 2001:db8::/48": ["fd00::3"],
      }),
    );
  });

  it("writes its NodeRouteTable again, owned by the new Node, when its Node is deleted and registers again", async () => {
    w().api.apply(route("egress", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"] }));
    const agent = await startAgent();
    await agent.ready;
    const table = () => w().api.get("NodeRouteTable", NODE) as Loose;
    // Settled: the route in, its gateway probed up (a change the agent would write).
    await eventually(() => expect(table()?.status).toMatchObject({ programmed: 1, gatewaysUp: 1 }));
    const before = table().status;

    // The Node goes, and the garbage collector with it takes the table it owns; the
    // kubelet registers the node again, under the same name with a new uid. Nothing
    // else changes: the agent has nothing new to write.
    w().api.delete("Node", NODE);
    await eventually(() => expect(table()).toBeUndefined());
    const node = w().api.apply({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: NODE, labels: { pool: "a" } },
    });
    const uid = (node.metadata as Loose).uid;
    // Within the bound, not at the sync-time refresh 5 minutes on.
    await eventually(() => {
      expect(table()?.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: "Node", name: NODE, uid }),
      ]);
      // The same report; its sync time may have moved on meanwhile.
      expect(table().status).toEqual({ ...before, lastSync: expect.any(String) });
    });
  });

  it("brings its NodeRouteTable back within a second or two when it is deleted, on a quiet node", async () => {
    w().api.apply(route("egress", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"] }));
    const agent = await startAgent();
    await agent.ready;
    const table = () => w().api.get("NodeRouteTable", NODE) as Loose;
    await eventually(() => expect(table()?.status).toMatchObject({ programmed: 1, gatewaysUp: 1 }));
    const before = table();

    // `kubectl delete noderoutetable node-a`; nothing else changes.
    w().api.delete("NodeRouteTable", NODE);
    const deletedAt = Date.now();
    await eventually(() => expect(table()?.status).toBeDefined());
    expect(Date.now() - deletedAt).toBeLessThan(2000);
    expect(table().metadata.ownerReferences).toEqual(before.metadata.ownerReferences);
    // The same report; its sync time may have moved on meanwhile.
    expect(table().status).toEqual({ ...before.status, lastSync: expect.any(String) });
  });

  it("keeps the kernel as it is through an API outage, and catches up after it", async () => {
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] }),
    );

    w().api.faults.failNext(1_000_000, { status: 503 });
    w().api.faults.dropWatches("abrupt");
    await new Promise((r) => setTimeout(r, 1500));
    expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] });

    w().api.faults.clear();
    w().api.apply(route("b", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.4"] }));
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main 198.18.0.0/24": ["10.0.0.3"],
        "main 198.18.1.0/24": ["10.0.0.4"],
      }),
    );
  });

  it("recovers from stalled watches and expired resourceVersions", async () => {
    const agent = await startAgent();
    await agent.ready;
    w().api.faults.stallWatches();
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.3"] }));
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.3"] }),
    );

    w().api.compact();
    w().api.faults.dropWatches("clean");
    // The double's WatchStream.end() leaves the stream writable until its close event.
    await new Promise((r) => setTimeout(r, 100));
    w().api.apply(route("a", { destinations: ["198.18.0.0/24"], gateways: ["10.0.0.4"] }));
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.0.0/24": ["10.0.0.4"] }),
    );
    const metrics = await agent.metrics.registry.getSingleMetricAsString("kroute_watch_restarts_total");
    expect(metrics).toMatch(/kroute_watch_restarts_total\{source="routes"\} [1-9]/);
  });

  it("reports invalid input and isolates it: other destinations and Routes are programmed", async () => {
    w().api.apply(
      route("mixed", {
        destinations: ["198.18.0.0/24", "127.0.0.0/8", "2001:db8::/32"],
        gateways: ["10.0.0.3"],
      }),
    );
    w().api.apply(route("broken", { destinations: "not-a-list", gateways: ["10.0.0.3"] }));
    w().api.apply(route("good", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.4"] }));
    const logs = capturedLog();
    const agent = await startAgent([], logs.logger);
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({
        "main 198.18.0.0/24": ["10.0.0.3"],
        "main 198.18.1.0/24": ["10.0.0.4"],
      }),
    );
    const { desiredTable } = await import("@kroute/core");
    const outcomes = desiredTable(agent.state()).outcomes;
    const mixed = outcomes.find((o) => o.route === "mixed");
    expect(mixed?.accepted).toBe(true);
    expect(mixed?.destinations.map((d) => [d.destination, d.state])).toEqual([
      ["198.18.0.0/24", "programmed"],
      ["127.0.0.0/8", "invalid"],
      ["2001:db8::/32", "invalid"],
    ]);
    const broken = outcomes.find((o) => o.route === "broken");
    expect(broken?.accepted).toBe(false);
    expect(broken?.message ?? "").toMatch(/destinations/);

    // Reported to the cluster: Route conditions, the NodeRouteTable, Events.
    const accepted = (name: string) =>
      ((w().api.get("Route", name)?.status as Loose)?.conditions ?? []).find(
        (c: Loose) => c.type === "Accepted",
      );
    await eventually(() => {
      expect(accepted("broken")).toMatchObject({ status: "False" });
      expect(accepted("broken").message).toMatch(/destinations/);
      expect(accepted("mixed")).toMatchObject({ status: "True" });
      expect(accepted("good")).toMatchObject({ status: "True" });
    });
    await eventually(() => {
      const table = w().api.get("NodeRouteTable", NODE) as Loose;
      expect(table?.status).toMatchObject({ programmed: 2 });
      expect(table.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Node", name: NODE })]);
      expect(table.status.problems).toContainEqual(
        expect.objectContaining({ route: "mixed", destination: "127.0.0.0/8", state: "invalid" }),
      );
      expect(nodeRouteTableSchema(table)).toMatchObject({ ok: true, errors: [] });
    });
    await eventually(() => {
      const notes = w()
        .api.list("Event", "default")
        .map((e) => (e as Loose).note as string);
      expect(notes.some((n) => n.includes("127.0.0.0/8"))).toBe(true);
      // The Route refused as a whole has its own, from the node that told its status.
      const refused = w()
        .api.list("Event", "default")
        .filter((e) => (e as Loose).reason === "RouteRefused") as Loose[];
      expect(refused).toEqual([
        expect.objectContaining({
          type: "Warning",
          regarding: expect.objectContaining({ kind: "Route", name: "broken" }),
          note: expect.stringMatching(/^Route broken \(generation \d+\) refused: .*destinations/),
        }),
      ]);
    });

    // And in the log, once each.
    const warnings = logs
      .lines()
      .filter((l) => l.level === 40 && (l.route === "broken" || l.route === "mixed"))
      .map((l) => l.msg);
    expect(warnings).toEqual([
      expect.stringMatching(/^Route broken refused: spec\.destinations/),
      expect.stringMatching(/^Route mixed: destination 127\.0\.0\.0\/8 invalid: /),
      expect.stringMatching(/^Route mixed: destination 2001:db8::\/32 invalid: /),
    ]);

    // Least privilege, from the agent's real requests: each is allowed by the chart's RBAC,
    // and each grant was needed (this test makes the agent write everything it writes).
    const grants = chartGrants();
    const needed = new Set(
      w()
        .api.requests()
        .flatMap((entry) => grantsNeeded(entry, grants)),
    );
    expect([...needed].sort()).toEqual([...grants].sort());

    // And each write passes the chart's admission policy (its NodeRouteTable is its own
    // node's), as the API server would see it: the agent's ServiceAccount, with the node
    // its pod-bound token names.
    const { admit } = chartAdmission();
    const agentUser = {
      username: "system:serviceaccount:kroute-system:kroute-agent",
      extra: { "authentication.kubernetes.io/node-name": [NODE] },
    };
    const writes = w()
      .api.requests()
      .flatMap((entry) => loggedWrite(entry, agentUser) ?? []);
    expect(writes.filter((r) => r.resource === "noderoutetables").length).toBeGreaterThan(0);
    expect(writes.map((r) => ({ write: `${r.resource}/${r.name}`, ...admit(r) }))).toEqual(
      writes.map((r) => ({ write: `${r.resource}/${r.name}`, allowed: true })),
    );
  });

  it("routes nothing through the node itself when it is one of a Route's gateways, and says so", async () => {
    // The node is 10.0.0.5 and fd00::5: a NAT gateway that is itself a node. Through its
    // IPv4 peer its forwarded traffic would loop back; Linux refuses the IPv6 route outright.
    await w().ns.ipBatch(["addr add fd00::5/64 dev eth0 nodad"]);
    w().api.apply(
      route("nat", {
        destinations: ["198.18.0.0/24", "2001:db8:1::/48"],
        gateways: ["10.0.0.5", "10.0.0.4", "fd00::5"],
      }),
    );
    w().api.apply(route("good", { destinations: ["198.18.1.0/24"], gateways: ["10.0.0.4"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 198.18.1.0/24": ["10.0.0.4"] }),
    );
    await eventually(() => {
      const table = w().api.get("NodeRouteTable", NODE) as Loose;
      expect(table?.status).toMatchObject({ programmed: 1, failed: 0, skipped: 2 });
      expect(table.status.problems).toEqual([
        expect.objectContaining({ route: "nat", destination: "198.18.0.0/24", state: "skipped" }),
        expect.objectContaining({ route: "nat", destination: "2001:db8:1::/48", state: "skipped" }),
      ]);
      expect(nodeRouteTableSchema(table)).toMatchObject({ ok: true, errors: [] });
    });
    const { routeOutcome } = await import("@kroute/core");
    expect(routeOutcome(agent.state(), "nat")).toMatchObject({
      accepted: true,
      destinations: [
        { destination: "198.18.0.0/24", state: "skipped", reason: expect.stringContaining("10.0.0.5") },
        { destination: "2001:db8:1::/48", state: "skipped", reason: expect.stringContaining("fd00::5") },
      ],
    });
  });

  it("overrides the default route, keeping protected addresses and replies on the original gateway", async () => {
    // A pod network's route, as a CNI plugin puts it in main: replies to pods must keep it.
    await w().ns.ip("route", "add", "10.244.1.0/24", "via", "10.0.0.7", "dev", "eth0", "proto", "static");
    w().api.apply(route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    const agent = await startAgent(["--keep-original=203.0.113.0/24"]);
    await agent.ready;
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["main default"]).toEqual(["10.0.0.3", "10.0.0.4"]);
      expect(routes["main 192.0.2.10"]).toEqual(["10.0.0.1"]); // API server endpoint
      expect(routes["main 198.51.100.53"]).toEqual(["10.0.0.1"]); // node resolver
      expect(routes["main 169.254.169.254"]).toEqual(["10.0.0.1"]); // metadata
      expect(routes["main 203.0.113.0/24"]).toEqual(["10.0.0.1"]); // --keep-original
    });
    expect(["10.0.0.3", "10.0.0.4"]).toContain(await routeGet(w().ns, "8.8.8.8"));
    expect(await routeGet(w().ns, "192.0.2.10")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "198.51.100.53")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "169.254.169.254")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "203.0.113.99")).toBe("10.0.0.1");
    // Replies sourced from the node's address keep the original gateway (policy rule + reply table).
    expect(await routeGet(w().ns, "8.8.8.8", "10.0.0.5")).toBe("10.0.0.1");
    // But only those that would take a default route: main's specific routes keep theirs.
    expect(await routeGet(w().ns, "10.244.1.5", "10.0.0.5")).toBe("10.0.0.7");
    expect(await routeGet(w().ns, "10.0.0.20", "10.0.0.5")).toBe("dev eth0");
    // The original default route is untouched.
    const original = await w().ns.ipJson<
      { dst: string; gateway: string; metric: number; protocol: string }[]
    >("route", "show", "default", "proto", "boot");
    expect(original).toEqual([expect.objectContaining({ dst: "default", gateway: "10.0.0.1", metric: 100 })]);

    w().api.delete("Route", "egress");
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
    expect(await routeGet(w().ns, "8.8.8.8")).toBe("10.0.0.1");
  });

  it("holds the override back while the kernel refuses a protected route, in the same batch too, and installs it once that is in", async () => {
    // Someone else's route at the exact key of the API server's protected route: the
    // kernel refuses kroute's add (EEXIST), and the override must wait for it.
    const foreign = ["192.0.2.10/32", "via", "10.0.0.7", "dev", "eth0", "metric", "50", "proto", "static"];
    await w().ns.ip("route", "add", ...foreign);
    w().api.apply(route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["main 198.51.100.53"]).toEqual(["10.0.0.1"]);
      expect(Object.keys(agent.state().failures)).toContain("r|4|254|192.0.2.10/32|50");
    });
    expect((await kernelRoutes(w().ns))["main default"]).toBeUndefined();
    expect(await routeGet(w().ns, "8.8.8.8")).toBe("10.0.0.1");
    // What the operator sees: the override failed, and why (not "pending" with no reason).
    const heldBack =
      "held back: the kernel refused the route that keeps 192.0.2.10/32 on the original gateway (File exists), and the override waits for it";
    await eventually(() => {
      const table = w().api.get("NodeRouteTable", NODE) as Loose;
      expect(table?.status).toMatchObject({ programmed: 0, pending: 0, failed: 1 });
      expect(table.status.problems).toEqual([
        { route: "egress", destination: "0.0.0.0/0", state: "failed", reason: heldBack },
      ]);
      expect(eventNotes(w())).toContain(`RouteFailed: destination 0.0.0.0/0 on node ${NODE}: ${heldBack}`);
    });

    await w().ns.ip("route", "del", ...foreign);
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["main 192.0.2.10"]).toEqual(["10.0.0.1"]);
      expect(routes["main default"]).toEqual(["10.0.0.3", "10.0.0.4"]);
    });
    expect(await routeGet(w().ns, "192.0.2.10")).toBe("10.0.0.1");
    await eventually(() => {
      const table = w().api.get("NodeRouteTable", NODE) as Loose;
      expect(table?.status).toMatchObject({ programmed: 1, failed: 0, problems: [] });
      expect(eventNotes(w())).toContain(
        `RouteRecovered: destination 0.0.0.0/0 is programmed on node ${NODE} again`,
      );
    });
  });

  it("overrides a metric-0 default route (static configurations, DigitalOcean droplets) as two halves", async () => {
    // No second default route can undercut metric 0: the override is 0.0.0.0/1 + 128.0.0.0/1.
    await w().ns.ipBatch([
      "route replace default via 10.0.0.1 dev eth0 metric 0",
      "route del default metric 100",
    ]);
    w().api.apply(route("egress", { destinations: ["0.0.0.0/0"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    const agent = await startAgent();
    await agent.ready;
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["main 0.0.0.0/1"]).toEqual(["10.0.0.3", "10.0.0.4"]);
      expect(routes["main 128.0.0.0/1"]).toEqual(["10.0.0.3", "10.0.0.4"]);
      expect(routes["main default"]).toBeUndefined();
      expect(routes["main 192.0.2.10"]).toEqual(["10.0.0.1"]); // API server endpoint
      expect(routes["135 default"]).toEqual(["10.0.0.1"]); // reply table
    });
    expect(["10.0.0.3", "10.0.0.4"]).toContain(await routeGet(w().ns, "8.8.8.8"));
    expect(["10.0.0.3", "10.0.0.4"]).toContain(await routeGet(w().ns, "203.0.113.99"));
    expect(await routeGet(w().ns, "192.0.2.10")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "198.51.100.53")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "169.254.169.254")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "8.8.8.8", "10.0.0.5")).toBe("10.0.0.1");
    // The halves are passed over for replies too, main's specific routes not.
    expect(await routeGet(w().ns, "203.0.113.99", "10.0.0.5")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "10.0.0.20", "10.0.0.5")).toBe("dev eth0");
    const { routeOutcome } = await import("@kroute/core");
    await eventually(() =>
      expect(routeOutcome(agent.state(), "egress")?.destinations[0]).toMatchObject({
        state: "programmed",
        reason: expect.stringContaining("split into 0.0.0.0/1 and 128.0.0.0/1"),
      }),
    );
    const original = await w().ns.ipJson<{ dst: string; gateway: string; metric?: number }[]>(
      "route",
      "show",
      "default",
      "table",
      "main",
    );
    expect(original).toEqual([expect.objectContaining({ dst: "default", gateway: "10.0.0.1" })]);
    expect(original[0]?.metric ?? 0).toBe(0);

    w().api.delete("Route", "egress");
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
    expect(await routeGet(w().ns, "8.8.8.8")).toBe("10.0.0.1");
  });

  it("keeps protected addresses and the node's replies on the original gateway under a VPN-style /1 pair, not under a narrower Route", async () => {
    // The classic VPN pair: two halves of the address space, more specific than any
    // default route, written by the operator. Without protection the API server endpoint
    // 192.0.2.10 and the resolver followed the VPN gateways, and the agent lost the API server.
    w().api.apply(
      route("vpn", { destinations: ["0.0.0.0/1", "128.0.0.0/1"], gateways: ["10.0.0.3", "10.0.0.4"] }),
    );
    const agent = await startAgent(["--keep-original=203.0.113.0/24"]);
    await agent.ready;
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["main 0.0.0.0/1"]).toEqual(["10.0.0.3", "10.0.0.4"]);
      expect(routes["main 128.0.0.0/1"]).toEqual(["10.0.0.3", "10.0.0.4"]);
      expect(routes["main 192.0.2.10"]).toEqual(["10.0.0.1"]); // API server endpoint
      expect(routes["main 198.51.100.53"]).toEqual(["10.0.0.1"]); // node resolver
      expect(routes["main 169.254.169.254"]).toEqual(["10.0.0.1"]); // metadata
      expect(routes["main 203.0.113.0/24"]).toEqual(["10.0.0.1"]); // --keep-original
    });
    expect(["10.0.0.3", "10.0.0.4"]).toContain(await routeGet(w().ns, "8.8.8.8"));
    expect(await routeGet(w().ns, "192.0.2.10")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "198.51.100.53")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "169.254.169.254")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "203.0.113.99")).toBe("10.0.0.1");
    // The node's own network stays on its link, as under an override.
    expect(await routeGet(w().ns, "10.0.0.20")).toBe("dev eth0");
    // The pair takes what the default route took, replies included: the node's replies
    // to inbound connections (SSH, NodePorts) keep the original gateway, as under an
    // override, through the reply table holding each half; main's specific routes first.
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["135 0.0.0.0/1"]).toEqual(["10.0.0.1"]);
      expect(routes["135 128.0.0.0/1"]).toEqual(["10.0.0.1"]);
    });
    expect(await routeGet(w().ns, "8.8.8.8", "10.0.0.5")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "200.1.1.1", "10.0.0.5")).toBe("10.0.0.1");
    expect(await routeGet(w().ns, "10.0.0.20", "10.0.0.5")).toBe("dev eth0");
    const table = () => w().api.get("NodeRouteTable", NODE) as Loose;
    await eventually(() => expect(table()?.status).toMatchObject({ programmed: 2, failed: 0, problems: [] }));

    // One half left: its reply protection stays, the other half's goes.
    w().api.apply(route("vpn", { destinations: ["0.0.0.0/1"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    await eventually(async () => {
      const routes = await kernelRoutes(w().ns);
      expect(routes["135 0.0.0.0/1"]).toEqual(["10.0.0.1"]);
      expect(routes["135 128.0.0.0/1"]).toBeUndefined();
      expect(routes["main 128.0.0.0/1"]).toBeUndefined();
    });
    expect(await routeGet(w().ns, "8.8.8.8", "10.0.0.5")).toBe("10.0.0.1");

    // A narrower Route that holds no protected address gets no protection, replies
    // included: the node's own traffic to a corporate network keeps the Route's gateways.
    w().api.apply(route("vpn", { destinations: ["8.0.0.0/8"], gateways: ["10.0.0.3", "10.0.0.4"] }));
    await eventually(async () =>
      expect(await kernelRoutes(w().ns)).toEqual({ "main 8.0.0.0/8": ["10.0.0.3", "10.0.0.4"] }),
    );
    expect(await w().ns.ipJson<unknown[]>("rule", "show", "table", "135")).toEqual([]);
    expect(["10.0.0.3", "10.0.0.4"]).toContain(await routeGet(w().ns, "8.8.8.8", "10.0.0.5"));
    w().api.delete("Route", "vpn");
    await eventually(async () => expect(await kernelRoutes(w().ns)).toEqual({}));
    expect(await routeGet(w().ns, "192.0.2.10")).toBe("10.0.0.1");
  });
});
