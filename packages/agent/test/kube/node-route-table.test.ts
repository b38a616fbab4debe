/** The node's NodeRouteTable: created owned by its Node, then its status applied, coalesced. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DestinationOutcome, IpAddr } from "@kroute/core";
import type { KubeApiDouble } from "@kroute/lab";
import type { KubeConfig } from "@kubernetes/client-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  MAX_GATEWAYS,
  MAX_PROBLEMS,
  MAX_USED_BY,
  type NodeRouteTableStatus,
  NodeRouteTableWriter,
  nodeRouteTableStatus,
} from "../../src/kube/node-route-table.ts";
import { realTimers } from "../../src/kube/timing.ts";
import { compileCrdSchema } from "../deploy/crd-schema.ts";
import { destination, gateway, outcome, table } from "./fixtures.ts";
import { GROUP, startApi, until, VERSION } from "./support.ts";

const NRT = { apiVersion: `${GROUP}/${VERSION}`, kind: "NodeRouteTable" };

/** What the API server's admission makes of a NodeRouteTable, by the CRD's schema. */
const nodeRouteTableSchema = compileCrdSchema(
  parseAllDocuments(
    readFileSync(
      join(import.meta.dirname, "../../../../deploy/helm/kroute/crds/networking.kroute.dev.yaml"),
      "utf8",
    ),
  )
    .map(
      (d) =>
        d.toJS() as {
          spec: { names: { kind: string }; versions: { schema: { openAPIV3Schema: object } }[] };
        },
    )
    .find((c) => c.spec.names.kind === "NodeRouteTable")!.spec.versions[0]!.schema.openAPIV3Schema,
);

const sample = table(
  [
    outcome("egress", 3, true, {
      destinations: [
        destination("egress", "10.0.0.0/8", "programmed"),
        destination("egress", "10.1.0.0/16", "failed", "Network is unreachable"),
        destination("egress", "127.0.0.1", "invalid", "protected prefix 127.0.0.0/8"),
      ],
    }),
    outcome("other", 1, true, {
      selected: false,
      destinations: [destination("other", "10.9.0.0/16", "pending")],
    }),
    outcome("vpn", 1, true, {
      destinations: [
        destination("vpn", "172.16.0.0/12", "programmed"),
        destination("vpn", "192.168.0.0/16", "pending"),
        destination(
          "vpn",
          "10.20.0.0/16",
          "skipped",
          "not routed on this node: it is the gateway 10.114.0.9",
        ),
      ],
    }),
  ],
  [
    gateway("10.114.0.4", "down", { since: "2026-01-01T00:00:00Z", usedBy: ["egress"] }),
    gateway("10.114.0.3", "up", { rttMs: 0.4123, since: "2026-01-01T00:00:00Z", usedBy: ["vpn", "egress"] }),
  ],
);

describe("nodeRouteTableStatus", () => {
  it("counts the selected Routes' destinations and lists gateways and problems, sorted; skipped is not failed", () => {
    expect(nodeRouteTableStatus(sample, "2026-01-01T00:01:00Z")).toEqual({
      programmed: 2,
      pending: 1,
      failed: 2,
      skipped: 1,
      failStatic: 0,
      degraded: 0,
      gatewaysUp: 1,
      gatewaysDown: 1,
      gateways: [
        {
          address: "10.114.0.3",
          state: "up",
          rttMs: 0.412,
          since: "2026-01-01T00:00:00Z",
          usedBy: ["egress", "vpn"],
        },
        { address: "10.114.0.4", state: "down", since: "2026-01-01T00:00:00Z", usedBy: ["egress"] },
      ],
      problems: [
        { route: "egress", destination: "10.1.0.0/16", state: "failed", reason: "Network is unreachable" },
        {
          route: "egress",
          destination: "127.0.0.1",
          state: "invalid",
          reason: "protected prefix 127.0.0.0/8",
        },
        {
          route: "vpn",
          destination: "10.20.0.0/16",
          state: "skipped",
          reason: "not routed on this node: it is the gateway 10.114.0.9",
        },
      ],
      lastSync: "2026-01-01T00:01:00Z",
    });
  });

  it("lists a destination routed without a gateway that is not on-link here as degraded, within the CRD", () => {
    const leftOut =
      "gateway 192.168.7.1 left out: not on-link (no connected network of the node contains it)";
    const partly = (dst: string, state: DestinationOutcome["state"], extra: Partial<DestinationOutcome>) => ({
      ...destination("partly", dst, state),
      gateways: ["10.114.0.3" as IpAddr],
      leftOut,
      ...extra,
    });
    const status = nodeRouteTableStatus(
      table([
        outcome("partly", 1, true, {
          destinations: [
            partly("10.50.0.0/16", "programmed", {}),
            partly("10.51.0.0/16", "pending", {}),
            partly("10.52.0.0/16", "programmed", { failStatic: true }),
            partly("10.53.0.0/16", "failed", { reason: `Network is unreachable; ${leftOut}` }),
          ],
        }),
      ]),
      undefined,
    );
    expect(status).toMatchObject({ programmed: 2, pending: 1, failed: 1, failStatic: 1, degraded: 3 });
    expect(status.problems.map((p) => [p.destination, p.state, p.reason])).toEqual([
      ["10.50.0.0/16", "degraded", leftOut],
      ["10.51.0.0/16", "degraded", leftOut],
      [
        "10.52.0.0/16",
        "fail-static",
        `every gateway is down (10.114.0.3); the route keeps all of them (fail-static); ${leftOut}`,
      ],
      ["10.53.0.0/16", "failed", `Network is unreachable; ${leftOut}`],
    ]);
    const check = nodeRouteTableSchema({ apiVersion: `${GROUP}/${VERSION}`, kind: "NodeRouteTable", status });
    expect(check.errors).toEqual([]);
  });

  it("caps the problem list and says how many were left out", () => {
    const many = Array.from({ length: MAX_PROBLEMS + 7 }, (_, i) =>
      destination("big", `10.${i >> 8}.${i & 255}.0/24`, "invalid", "x"),
    );
    const status = nodeRouteTableStatus(
      table([outcome("big", 1, true, { destinations: many })]),
      "2026-01-01T00:00:00Z",
    );
    expect(status.problems).toHaveLength(MAX_PROBLEMS);
    expect(status.problemsOmitted).toBe(7);
    expect(status.failed).toBe(MAX_PROBLEMS + 7);
  });

  it("lists no more gateways than the CRD takes, down ones first, and says how many were left out", () => {
    // 1,100 distinct gateways: 35 Routes of 32 each; the API server refuses a 1,025th (maxItems).
    const address = (i: number) => `10.114.${i >> 8}.${i & 255}`;
    const gateways = Array.from({ length: 1100 }, (_, i) =>
      gateway(address(i), i === 1099 ? "down" : "up", { usedBy: [`r${i >> 5}`] }),
    );
    const status = nodeRouteTableStatus(table([], gateways), "2026-01-01T00:00:00Z");
    expect(status.gateways).toHaveLength(MAX_GATEWAYS);
    expect(status.gatewaysOmitted).toBe(1100 - MAX_GATEWAYS);
    expect(status.gatewaysUp).toBe(1099);
    expect(status.gatewaysDown).toBe(1);
    // The down gateway sorts last by address, and is listed all the same, in address order.
    expect(status.gateways.at(-1)).toMatchObject({ address: address(1099), state: "down" });
    expect(status.gateways[0]?.address).toBe(address(0));
    const check = nodeRouteTableSchema({ apiVersion: `${GROUP}/${VERSION}`, kind: "NodeRouteTable", status });
    expect(check.errors).toEqual([]);
  });
});

describe("nodeRouteTableStatus, a gateway of many Routes", () => {
  it("names the first Routes through it by name, counts the rest, and stays within the CRD", () => {
    const routes = Array.from({ length: MAX_USED_BY + 5 }, (_, i) => `egress-${String(i).padStart(3, "0")}`);
    const status = nodeRouteTableStatus(
      table([], [gateway("10.114.0.3", "up", { usedBy: [...routes].reverse() })]),
      "2026-01-01T00:00:00Z",
    );
    expect(status.gateways[0]?.usedBy).toEqual(routes.slice(0, MAX_USED_BY));
    expect(status.gateways[0]?.usedByOmitted).toBe(5);
    const check = nodeRouteTableSchema({ apiVersion: `${GROUP}/${VERSION}`, kind: "NodeRouteTable", status });
    expect(check.errors).toEqual([]);
  });

  it("names them all, with no count, when they fit", () => {
    const status = nodeRouteTableStatus(
      table([], [gateway("10.114.0.3", "up", { usedBy: ["b", "a"] })]),
      "2026-01-01T00:00:00Z",
    );
    expect(status.gateways[0]).toEqual({ address: "10.114.0.3", state: "up", usedBy: ["a", "b"] });
  });
});

describe("nodeRouteTableStatus, fail-static", () => {
  const down = ["10.114.0.4", "10.114.0.3"] as IpAddr[];
  const stuck = (dst: string, state: DestinationOutcome["state"], reason?: string): DestinationOutcome => ({
    ...destination("egress", dst, state, reason),
    gateways: down,
    failStatic: true,
  });
  const failStatic = table(
    [
      outcome("egress", 1, true, {
        destinations: [
          stuck("10.0.0.0/8", "programmed"),
          stuck("10.1.0.0/16", "failed", "Network is unreachable"),
          stuck("fd00::/64", "pending", "not yet applied"),
          { ...destination("egress", "10.2.0.0/16", "programmed"), gateways: ["10.114.0.5" as IpAddr] },
        ],
      }),
      outcome("other", 1, true, { selected: false, destinations: [stuck("10.9.0.0/16", "programmed")] }),
    ],
    [
      gateway("10.114.0.4", "down", { usedBy: ["egress"] }),
      gateway("10.114.0.3", "down", { usedBy: ["egress"] }),
    ],
  );

  it("counts fail-static destinations and lists each once, naming the down gateways", () => {
    const status = nodeRouteTableStatus(failStatic, "2026-01-01T00:01:00Z");
    expect(status).toMatchObject({ programmed: 2, pending: 1, failed: 1, failStatic: 3, gatewaysDown: 2 });
    const keeps = "every gateway is down (10.114.0.3, 10.114.0.4); the route keeps all of them (fail-static)";
    expect(status.problems).toEqual([
      { route: "egress", destination: "10.0.0.0/8", state: "fail-static", reason: keeps },
      {
        route: "egress",
        destination: "10.1.0.0/16",
        state: "failed",
        reason: `Network is unreachable; ${keeps}`,
      },
      { route: "egress", destination: "fd00::/64", state: "fail-static", reason: keeps },
    ]);
  });

  it("caps the problem list with fail-static entries counted like the others", () => {
    const many = Array.from({ length: MAX_PROBLEMS + 3 }, (_, i) =>
      stuck(`10.${i >> 8}.${i & 255}.0/24`, "programmed"),
    );
    const status = nodeRouteTableStatus(
      table([outcome("big", 1, true, { destinations: many })]),
      "2026-01-01T00:00:00Z",
    );
    expect(status.problems).toHaveLength(MAX_PROBLEMS);
    expect(status.problemsOmitted).toBe(3);
    expect(status.failStatic).toBe(MAX_PROBLEMS + 3);
    expect(status.programmed).toBe(MAX_PROBLEMS + 3);
  });
});

describe("NodeRouteTableWriter", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  let writer: NodeRouteTableWriter | undefined;

  beforeEach(async () => {
    ({ api, kc } = await startApi());
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n2" } });
  });
  afterEach(async () => {
    writer?.close();
    await api.close();
  });

  const nrtWrites = () => api.requests((r) => r.resource === `${GROUP}/${VERSION}/noderoutetables`);
  /** The Node's real uid: the API double's garbage collector deletes a table owned by any other. */
  const nodeUid = (name: string) => (api.get("Node", name)!.metadata as { uid: string }).uid;

  it("creates the table owned by its Node, then updates its status by server-side apply", async () => {
    writer = new NodeRouteTableWriter({ kc, nodeName: "n1", minIntervalMs: 0 });
    writer.update(sample, undefined, "2026-01-01T00:01:00Z");
    await writer.settled();
    const created = api.get(NRT, "n1");
    expect(created?.metadata).toMatchObject({
      name: "n1",
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: nodeUid("n1") }],
    });
    expect(created?.status).toEqual(nodeRouteTableStatus(sample, "2026-01-01T00:01:00Z"));
    // The uid came from a list of this node only.
    const nodeLists = api.requests((r) => r.resource === "/v1/nodes");
    expect(nodeLists.map((r) => r.query.fieldSelector)).toEqual(["metadata.name=n1"]);
    expect(nrtWrites().map((r) => [r.verb, r.subresource, r.query.fieldManager])).toEqual([
      ["apply", "", "kroute-agent"],
      ["apply", "status", "kroute-agent"],
    ]);

    const healed = table(sample.outcomes, [gateway("10.114.0.3", "up", { usedBy: ["vpn"] })]);
    writer.update(healed, undefined, "2026-01-01T00:02:00Z");
    await writer.settled();
    expect(api.get(NRT, "n1")?.status).toMatchObject({
      gatewaysDown: 0,
      gatewaysUp: 1,
      lastSync: "2026-01-01T00:02:00Z",
    });
    // Only the status was written the second time: the object exists.
    expect(nrtWrites().map((r) => r.subresource)).toEqual(["", "status", "status"]);
    expect(api.get(NRT, "n1")?.metadata).toHaveProperty("ownerReferences");
  });

  it("coalesces bursts of updates and spaces writes by the minimum interval, always writing the latest", async () => {
    writer = new NodeRouteTableWriter({ kc, nodeName: "n1", nodeUid: nodeUid("n1"), minIntervalMs: 500 });
    const tableWith = (n: number) =>
      table([
        outcome("r", 1, true, {
          destinations: Array.from({ length: n }, (_, j) => destination("r", `10.${j}.0.0/16`, "programmed")),
        }),
      ]);
    for (let i = 1; i <= 10; i++) writer.update(tableWith(i), undefined, "2026-01-01T00:00:01Z");
    await writer.settled();
    for (let i = 11; i <= 20; i++) writer.update(tableWith(i), undefined, "2026-01-01T00:00:02Z");
    await writer.settled();
    const statusWrites = nrtWrites().filter((r) => r.subresource === "status");
    expect(
      statusWrites.map((r) => (r.body as unknown as { status: NodeRouteTableStatus }).status.programmed),
    ).toEqual([10, 20]);
    expect(statusWrites[1]!.at - statusWrites[0]!.at).toBeGreaterThanOrEqual(500);
  });

  it("leaves a table that changed only its sync time alone until the refresh interval", async () => {
    writer = new NodeRouteTableWriter({
      kc,
      nodeName: "n1",
      nodeUid: nodeUid("n1"),
      minIntervalMs: 0,
      syncRefreshMs: 60_000,
    });
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    writer.update(sample, undefined, "2026-01-01T00:00:30Z");
    await writer.settled();
    expect(nrtWrites().filter((r) => r.subresource === "status")).toHaveLength(1);
    writer.update(sample, undefined, "2026-01-01T00:01:00Z");
    await writer.settled();
    expect(nrtWrites().filter((r) => r.subresource === "status")).toHaveLength(2);
    expect(api.get(NRT, "n1")?.status).toMatchObject({ lastSync: "2026-01-01T00:01:00Z" });
  });

  it("leaves a table whose gateways changed only their round-trip times alone until the refresh interval", async () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    writer = new NodeRouteTableWriter({
      kc,
      nodeName: "n1",
      nodeUid: nodeUid("n1"),
      minIntervalMs: 0,
      syncRefreshMs: 60_000,
      timers: { ...realTimers, now: () => now },
    });
    const withRtt = (rttMs: number, state: "up" | "down" = "up") =>
      table(sample.outcomes, [gateway("10.114.0.3", state, { rttMs, usedBy: ["vpn"] })]);
    const writtenRtt = () =>
      (api.get(NRT, "n1")!.status as { gateways: { rttMs?: number }[] }).gateways[0]?.rttMs;
    writer.update(withRtt(0.4), undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    // The prober's RTT refreshes, every 10 s: nothing else changed.
    for (const rtt of [0.41, 0.39, 0.42]) {
      now += 10_000;
      writer.update(withRtt(rtt), undefined, "2026-01-01T00:00:00Z");
      await writer.settled();
    }
    const statusWrites = () => nrtWrites().filter((r) => r.subresource === "status");
    expect(statusWrites()).toHaveLength(1);
    expect(writtenRtt()).toBe(0.4);
    now += 30_000;
    writer.update(withRtt(0.43), undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    expect(statusWrites()).toHaveLength(2);
    expect(writtenRtt()).toBe(0.43);
    // A change of anything else is written at once, RTT and all.
    now += 1000;
    writer.update(withRtt(0.5, "down"), undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    expect(statusWrites()).toHaveLength(3);
    expect(api.get(NRT, "n1")?.status).toMatchObject({ gatewaysDown: 1, gateways: [{ rttMs: 0.5 }] });
  });

  it("writes no sync time before the node's first sync, and its first sync at once", async () => {
    writer = new NodeRouteTableWriter({
      kc,
      nodeName: "n1",
      nodeUid: nodeUid("n1"),
      minIntervalMs: 0,
      syncRefreshMs: 60_000,
    });
    writer.update(sample, undefined, undefined);
    await writer.settled();
    expect(api.get(NRT, "n1")?.status).not.toHaveProperty("lastSync");
    writer.update(sample, undefined, "2026-01-01T00:00:05Z");
    await writer.settled();
    expect(api.get(NRT, "n1")?.status).toMatchObject({ lastSync: "2026-01-01T00:00:05Z" });
  });

  it("recreates the table when it was deleted, and retries failed writes", async () => {
    const errors: unknown[] = [];
    writer = new NodeRouteTableWriter({
      kc,
      nodeName: "n1",
      nodeUid: nodeUid("n1"),
      minIntervalMs: 0,
      backoff: { initialMs: 20, jitter: 0 },
      onError: (e) => errors.push(e),
    });
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    api.delete(NRT, "n1");
    api.faults.failNext(1, { match: (r) => r.verb === "apply" });
    writer.update(table([]), undefined, "2026-01-01T00:00:10Z");
    await until(() => api.get(NRT, "n1") !== undefined, "the table to be recreated");
    await writer.settled();
    expect(errors).toHaveLength(1);
    expect(api.get(NRT, "n1")?.status).toMatchObject({ programmed: 0, lastSync: "2026-01-01T00:00:10Z" });
  });

  it("retries a write the API server shed (429) no sooner than its Retry-After", async () => {
    writer = new NodeRouteTableWriter({
      kc,
      nodeName: "n1",
      nodeUid: nodeUid("n1"),
      minIntervalMs: 0,
      backoff: { initialMs: 20, jitter: 0 },
    });
    api.faults.failNext(1, { status: 429, retryAfterSeconds: 1, match: (r) => r.verb === "apply" });
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await until(() => api.get(NRT, "n1")?.status !== undefined, "the table after the 429");
    const applies = nrtWrites();
    expect(applies.map((r) => r.status)).toEqual([429, 201, 200]);
    expect(applies[1]!.at - applies[0]!.at).toBeGreaterThanOrEqual(1000);
  });

  it("owns a recreated table by the Node's current uid (a Node registered again has a new one)", async () => {
    writer = new NodeRouteTableWriter({ kc, nodeName: "n1", minIntervalMs: 0 });
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    const firstUid = nodeUid("n1");
    // The Node goes (the garbage collector takes its table with it) and registers again.
    api.delete("Node", "n1");
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    const secondUid = nodeUid("n1");
    expect(secondUid).not.toBe(firstUid);
    await until(() => api.get(NRT, "n1") === undefined, "the garbage collector to delete the table");
    writer.update(table([]), undefined, "2026-01-01T00:00:10Z");
    await until(() => api.get(NRT, "n1") !== undefined, "the table to be recreated");
    await writer.settled();
    expect(api.get(NRT, "n1")?.metadata).toMatchObject({
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: secondUid }],
    });
  });

  it("creates the table again, owned by the new uid, once told of a Node registered again, with nothing new to write", async () => {
    writer = new NodeRouteTableWriter({ kc, nodeName: "n1", minIntervalMs: 0 });
    writer.nodeSeen(nodeUid("n1"));
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    // The uid came from the Node watch: no lookup.
    expect(api.requests((r) => r.resource === "/v1/nodes")).toEqual([]);
    api.delete("Node", "n1");
    await until(() => api.get(NRT, "n1") === undefined, "the garbage collector to delete the table");
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    writer.nodeSeen(nodeUid("n1"));
    await until(() => api.get(NRT, "n1")?.status !== undefined, "the table to be created again");
    expect(api.get(NRT, "n1")?.metadata).toMatchObject({
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "n1", uid: nodeUid("n1") }],
    });
    expect(api.get(NRT, "n1")?.status).toEqual(nodeRouteTableStatus(sample, "2026-01-01T00:00:00Z"));
  });

  it("does not wait out a retry's backoff for a Node registered again", async () => {
    const errors: unknown[] = [];
    writer = new NodeRouteTableWriter({
      kc,
      nodeName: "n1",
      minIntervalMs: 0,
      // Far longer than the test's bound.
      backoff: { initialMs: 60_000, maxMs: 60_000, jitter: 0 },
      onError: (e) => errors.push(e),
    });
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    api.delete("Node", "n1");
    await until(() => api.get(NRT, "n1") === undefined, "the garbage collector to delete the table");
    // A write finds the table gone and its Node too: it fails, and waits to be retried.
    writer.update(table([]), undefined, "2026-01-01T00:00:10Z");
    await until(() => errors.length > 0, "the write to fail without the Node");
    expect(String(errors[0])).toMatch(/Node "n1" not found/);
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    writer.nodeSeen(nodeUid("n1"));
    await until(() => api.get(NRT, "n1")?.status !== undefined, "the table to be created again");
    expect(api.get(NRT, "n1")?.status).toMatchObject({ programmed: 0, lastSync: "2026-01-01T00:00:10Z" });
  });
});

describe("NodeRouteTableWriter, told what the watch of its table sees", () => {
  let api: KubeApiDouble;
  let kc: KubeConfig;
  let writer: NodeRouteTableWriter | undefined;

  beforeEach(async () => {
    ({ api, kc } = await startApi());
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
  });
  afterEach(async () => {
    writer?.close();
    await api.close();
  });

  const nrtWrites = () => api.requests((r) => r.resource === `${GROUP}/${VERSION}/noderoutetables`);
  const nodeUid = () => (api.get("Node", "n1")!.metadata as { uid: string }).uid;
  const ownerUids = () =>
    (
      (api.get(NRT, "n1")?.metadata as { ownerReferences?: { uid: string }[] } | undefined)
        ?.ownerReferences ?? []
    ).map((r) => r.uid);

  it("writes a table deleted under it again at once, not a minimum interval on, owned by the Node's current uid", async () => {
    writer = new NodeRouteTableWriter({ kc, nodeName: "n1", minIntervalMs: 1000 });
    writer.nodeSeen(nodeUid());
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    // The Node is deleted and registers again: the collector deletes the table it owned,
    // and the writer, told the new uid, creates it again, owned by that.
    api.delete("Node", "n1");
    await until(() => api.get(NRT, "n1") === undefined, "the garbage collector to delete the table");
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" } });
    writer.nodeSeen(nodeUid());
    await until(() => api.get(NRT, "n1")?.status !== undefined, "the table owned by the new Node");
    await writer.settled();
    expect(ownerUids()).toEqual([nodeUid()]);
    // A collector that decided on the old uid deletes it all the same, just after.
    api.delete(NRT, "n1");
    const deletedAt = Date.now();
    writer.tableObserved({ present: false });
    await until(() => api.get(NRT, "n1")?.status !== undefined, "the table to be back");
    // Well within the minimum interval since the last write.
    expect(Date.now() - deletedAt).toBeLessThan(900);
    await writer.settled();
    expect(ownerUids()).toEqual([nodeUid()]);
    expect(api.get(NRT, "n1")?.status).toEqual(nodeRouteTableStatus(sample, "2026-01-01T00:00:00Z"));
    // Its uid asked of the API server, not taken from before: the Node may have gone with it.
    expect(api.requests((r) => r.resource === "/v1/nodes").map((r) => r.verb)).toEqual(["list"]);
  });

  it("meets the minimum interval when the table is deleted again as soon as it is back (a cleanup loop)", async () => {
    writer = new NodeRouteTableWriter({ kc, nodeName: "n1", minIntervalMs: 1000 });
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    const creates = () => nrtWrites().filter((r) => r.subresource === "" && r.status === 201);
    api.delete(NRT, "n1");
    writer.tableObserved({ present: false });
    await until(() => creates().length === 2, "the first re-creation");
    await writer.settled();
    api.delete(NRT, "n1");
    writer.tableObserved({ present: false });
    await until(() => creates().length === 3, "the second re-creation");
    await writer.settled();
    const [, first, second] = creates();
    // The interval runs from the end of the first re-creation (its status write).
    const firstEnd = nrtWrites().find((r) => r.subresource === "status" && r.at > first!.at)!;
    expect(second!.at - firstEnd.at).toBeGreaterThanOrEqual(950);
    expect(api.get(NRT, "n1")?.status).toEqual(nodeRouteTableStatus(sample, "2026-01-01T00:00:00Z"));
  });

  it("answers a table owned by another uid by owning it again, and its own writes by nothing", async () => {
    writer = new NodeRouteTableWriter({ kc, nodeName: "n1", minIntervalMs: 0 });
    writer.nodeSeen(nodeUid());
    writer.update(sample, undefined, "2026-01-01T00:00:00Z");
    await writer.settled();
    expect(nrtWrites()).toHaveLength(2);
    // Its own writes, as the watch reports them.
    writer.tableObserved({ present: true, nodeOwnerUids: [nodeUid()] });
    writer.tableObserved({ present: true, nodeOwnerUids: [nodeUid(), "an-extra-owner"] });
    await writer.settled();
    expect(nrtWrites()).toHaveLength(2);
    // An owner reference taken out, or replaced: the table would outlive its Node.
    writer.tableObserved({ present: true, nodeOwnerUids: [] });
    await writer.settled();
    expect(nrtWrites().map((r) => r.subresource)).toEqual(["", "status", "", "status"]);
    expect(ownerUids()).toEqual([nodeUid()]);
  });
});
