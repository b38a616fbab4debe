/**
 * The agent's Kubernetes side as main.ts builds it: the client config (in-cluster and
 * kubeconfig) and the sources and writers of kubeClusterSources, against the API double.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import type { KubeApiDouble } from "@kroute/lab";
import { afterEach, describe, expect, it } from "vitest";
import { EventRecorder } from "../../src/kube/event-recorder.ts";
import { NodeRouteTableWriter, nodeRouteTableStatus } from "../../src/kube/node-route-table.ts";
import { createMetrics } from "../../src/metrics.ts";
import { kubeClusterSources, loadKubeConfig } from "../../src/runtime/kube-sources.ts";
import { parseAgentSettings, SettingsError } from "../../src/settings.ts";
import { destination, outcome, table } from "../kube/fixtures.ts";
import { collect, fastSupervisor, GROUP, sleep, startApi, until, VERSION } from "../kube/support.ts";
import { capturedLog, quietLogger } from "./harness.ts";

const SERVICE_ACCOUNT = "var/run/secrets/kubernetes.io/serviceaccount";
const TOKEN = "in-cluster-token-3f9a";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "kroute-kube-sources-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A self-signed certificate for 127.0.0.1 (the service account's ca.crt is the certificate itself). */
function selfSigned(dir: string): { key: string; cert: string } {
  const key = join(dir, "tls.key");
  const cert = join(dir, "tls.crt");
  execFileSync(
    "openssl",
    [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"],
      ...["-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
      ...["-addext", "subjectAltName=IP:127.0.0.1"],
    ],
    { stdio: "ignore" },
  );
  return { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") };
}

/** TLS in front of the API double (plain HTTP), as the API server's https endpoint. */
async function tlsFront(api: KubeApiDouble, tls: { key: string; cert: string }): Promise<number> {
  const upstream = new URL(api.url);
  const sockets = new Set<Socket>();
  const server: TlsServer = createTlsServer(tls, (client) => {
    const backend = connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, backend]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        backend.destroy();
      });
    }
    client.pipe(backend);
    backend.pipe(client);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  cleanups.push(
    () =>
      new Promise<void>((done) => {
        for (const s of sockets) s.destroy();
        server.close(() => done());
      }),
  );
  return (server.address() as { port: number }).port;
}

function setEnv(name: string, value: string): void {
  const before = process.env[name];
  process.env[name] = value;
  cleanups.push(() => {
    if (before === undefined) delete process.env[name];
    else process.env[name] = before;
  });
}

describe("loadKubeConfig", () => {
  it("uses the in-cluster config in a pod: the service's https address, the account's CA and token", async () => {
    const { api } = await startApi({ token: TOKEN });
    cleanups.push(() => api.close());
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "node-a", labels: { pool: "a" } } });
    const root = tempDir();
    const tls = selfSigned(root);
    const account = join(root, SERVICE_ACCOUNT);
    mkdirSync(account, { recursive: true });
    writeFileSync(join(account, "token"), TOKEN);
    writeFileSync(join(account, "ca.crt"), tls.cert);
    writeFileSync(join(account, "namespace"), "kroute-system");
    const port = await tlsFront(api, tls);
    setEnv("KUBERNETES_SERVICE_HOST", "127.0.0.1");
    setEnv("KUBERNETES_SERVICE_PORT", String(port));

    const kc = loadKubeConfig({}, root);
    expect(kc.getCurrentCluster()?.server).toBe(`https://127.0.0.1:${port}`);
    const settings = parseAgentSettings([], { NODE_NAME: "node-a" });
    const sources = kubeClusterSources(kc, settings, createMetrics({ processMetrics: false }), quietLogger, {
      supervisor: fastSupervisor().options,
    });
    const node = collect(sources.node);
    cleanups.push(() => sources.close?.(), node.stop);
    await until(() => node.items.length > 0, "the own Node over TLS");
    expect(node.items[0]).toEqual({ type: "node/observed", node: "node-a", labels: { pool: "a" } });
    // The double answers 401 to any request without `Authorization: Bearer <token>`.
    const requests = api.requests();
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((r) => r.status === 401)).toEqual([]);
  });

  it("the token is what gets the agent in (a wrong one is refused)", async () => {
    const { api } = await startApi({ token: TOKEN });
    cleanups.push(() => api.close());
    const root = tempDir();
    const tls = selfSigned(root);
    const account = join(root, SERVICE_ACCOUNT);
    mkdirSync(account, { recursive: true });
    writeFileSync(join(account, "token"), "some-other-token");
    writeFileSync(join(account, "ca.crt"), tls.cert);
    const port = await tlsFront(api, tls);
    setEnv("KUBERNETES_SERVICE_HOST", "127.0.0.1");
    setEnv("KUBERNETES_SERVICE_PORT", String(port));

    const kc = loadKubeConfig({}, root);
    const sources = kubeClusterSources(
      kc,
      parseAgentSettings([], { NODE_NAME: "node-a" }),
      createMetrics({ processMetrics: false }),
      quietLogger,
      { supervisor: fastSupervisor().options },
    );
    const node = collect(sources.node);
    cleanups.push(() => sources.close?.(), node.stop);
    await until(() => api.requests().some((r) => r.status === 401), "a refused request");
    expect(node.items).toEqual([]);
  });

  it("prefers --kubeconfig over the in-cluster config", async () => {
    const { api } = await startApi();
    cleanups.push(() => api.close());
    const file = join(tempDir(), "kubeconfig.json");
    writeFileSync(file, api.kubeconfig());
    setEnv("KUBERNETES_SERVICE_HOST", "127.0.0.1");
    setEnv("KUBERNETES_SERVICE_PORT", "1");
    expect(loadKubeConfig({ kubeconfig: file }).getCurrentCluster()?.server).toBe(api.url);
  });

  it("refuses a --kubeconfig it cannot read or parse as a settings error naming flag and file", () => {
    const missing = join(tempDir(), "missing.yaml");
    expect(() => loadKubeConfig({ kubeconfig: missing })).toThrow(SettingsError);
    expect(() => loadKubeConfig({ kubeconfig: missing })).toThrow(
      `--kubeconfig: ${JSON.stringify(missing)} cannot be loaded: ENOENT`,
    );
    const garbled = join(tempDir(), "garbled.yaml");
    writeFileSync(garbled, "clusters: [unclosed");
    expect(() => loadKubeConfig({ kubeconfig: garbled })).toThrow(
      `--kubeconfig: ${JSON.stringify(garbled)} cannot be loaded: `,
    );
  });
});

describe("kubeClusterSources", () => {
  it("reads the API servers' EndpointSlices in --api-server-namespace, and writes Events in default (the only namespace but kube-system that takes Events about a Node or a Route)", async () => {
    const { api, kc } = await startApi();
    cleanups.push(() => api.close());
    const slice = (namespace: string, address: string) => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "kubernetes", namespace, labels: { "kubernetes.io/service-name": "kubernetes" } },
      addressType: "IPv4",
      endpoints: [{ addresses: [address] }],
    });
    api.apply(slice("default", "192.0.2.1"));
    api.apply(slice("kube-api", "192.0.2.2"));
    const settings = parseAgentSettings(["--api-server-namespace=kube-api"], { NODE_NAME: "node-a" });
    const log = capturedLog();
    const metrics = createMetrics({ processMetrics: false });
    const sources = kubeClusterSources(kc, settings, metrics, log.logger, {
      supervisor: fastSupervisor().options,
    });
    const apiServers = collect(sources.apiServers);
    cleanups.push(() => sources.close?.(), apiServers.stop);
    await until(() => apiServers.items.length > 0, "the API servers' addresses");
    expect(apiServers.items[0]).toEqual(["192.0.2.2"]);

    const events = sources.status?.find((s): s is EventRecorder => s instanceof EventRecorder);
    events?.record({ kind: "gateway-down", gateway: "10.0.0.3" });
    await events?.settled();
    expect(log.lines().filter((l) => l.msg.includes("failed"))).toEqual([]);
    expect(api.list({ apiVersion: "events.k8s.io/v1", kind: "Event" }, "kube-api")).toEqual([]);
    expect(api.list({ apiVersion: "events.k8s.io/v1", kind: "Event" }, "default")).toEqual([
      expect.objectContaining({
        reason: "GatewayDown",
        regarding: expect.objectContaining({ name: "node-a" }),
      }),
    ]);
  });

  it("logs why the API server refuses it: a failed list with the status it answered, and failed status writes", async () => {
    const { api, kc } = await startApi();
    cleanups.push(() => api.close());
    const settings = parseAgentSettings([], { NODE_NAME: "node-a" });
    // As from a ClusterRole without "list routes" (until it is fixed), then one without "create events".
    api.faults.failNext(1, { status: 403, match: (r) => r.verb === "list" && r.path.includes("/routes") });
    const log = capturedLog();
    const metrics = createMetrics({ processMetrics: false });
    const sources = kubeClusterSources(kc, settings, metrics, log.logger, {
      supervisor: fastSupervisor().options,
    });
    const routes = collect(sources.routes);
    cleanups.push(() => sources.close?.(), routes.stop);
    await until(() => routes.items.length > 0, "the Routes after the refused list");

    api.faults.failNext(2, { status: 403, match: (r) => r.path.includes("/events") });
    const events = sources.status?.find((s): s is EventRecorder => s instanceof EventRecorder);
    events?.record({ kind: "gateway-down", gateway: "10.0.0.3" });
    events?.record({ kind: "gateway-down", gateway: "10.0.0.4" });
    await events?.settled();
    const warnings = log.lines().filter((l) => l.level === 40);
    expect(warnings).toEqual([
      expect.objectContaining({
        watch: "routes",
        msg: expect.stringMatching(/routes list or watch failed.*403/),
      }),
      expect.objectContaining({ kind: "Event", msg: expect.stringMatching(/Event write failed.*403/) }),
    ]);
    // The metrics count every failure, the second Event's too, which the log leaves for later.
    const counted = await metrics.registry.getSingleMetricAsString("kroute_status_write_failures_total");
    expect(counted.split("\n").filter((l) => !l.startsWith("#"))).toEqual([
      'kroute_status_write_failures_total{kind="route_status"} 0',
      'kroute_status_write_failures_total{kind="node_route_table"} 0',
      'kroute_status_write_failures_total{kind="event"} 2',
    ]);
  });

  it("caps the node's Events at 25 whatever their subject: the rest are counted in kroute_kubernetes_events_dropped_total and logged once, naming the first", async () => {
    const { api, kc } = await startApi();
    cleanups.push(() => api.close());
    const settings = parseAgentSettings([], { NODE_NAME: "node-a" });
    const log = capturedLog();
    const metrics = createMetrics({ processMetrics: false });
    const sources = kubeClusterSources(kc, settings, metrics, log.logger, {
      supervisor: fastSupervisor().options,
    });
    cleanups.push(() => sources.close?.());
    const events = sources.status?.find((s): s is EventRecorder => s instanceof EventRecorder);
    // Hundreds of Routes failing at once on one node.
    for (let i = 0; i < 300; i++)
      events?.record({ kind: "route-failed", route: `r${i}`, destination: "10.0.0.0/8", reason: "EINVAL" });
    await events?.settled();
    expect(api.list({ apiVersion: "events.k8s.io/v1", kind: "Event" }, "default")).toHaveLength(25);
    expect(
      await metrics.registry.getSingleMetricAsString("kroute_kubernetes_events_dropped_total"),
    ).toContain("kroute_kubernetes_events_dropped_total 275");
    expect(log.lines().filter((l) => l.level === 40)).toEqual([
      expect.objectContaining({
        reason: "RouteFailed",
        subject: "destination/r25/10.0.0.0/8",
        msg: expect.stringMatching(/Event RouteFailed about destination\/r25\/10.0.0.0\/8 dropped/),
      }),
    ]);
  });
});

describe("kubeClusterSources, the node's NodeRouteTable", () => {
  const NRT = { apiVersion: `${GROUP}/${VERSION}`, kind: "NodeRouteTable" };
  const report = (programmed: number) =>
    table([
      outcome("egress", 1, true, {
        destinations: Array.from({ length: programmed }, (_, i) =>
          destination("egress", `10.${i}.0.0/16`, "programmed"),
        ),
      }),
    ]);

  /** The agent's Kubernetes side for node-a, its Node there, as main.ts builds it, with `tableMinIntervalMs`. */
  async function started(tableMinIntervalMs?: number) {
    const { api, kc } = await startApi();
    cleanups.push(() => api.close());
    api.apply({ apiVersion: "v1", kind: "Node", metadata: { name: "node-a" } });
    const sources = kubeClusterSources(
      kc,
      parseAgentSettings([], { NODE_NAME: "node-a" }),
      createMetrics({ processMetrics: false }),
      quietLogger,
      {
        supervisor: fastSupervisor().options,
        ...(tableMinIntervalMs === undefined ? {} : { tableMinIntervalMs }),
      },
    );
    const node = collect(sources.node);
    cleanups.push(() => sources.close?.(), node.stop);
    const writer = sources.status?.find((s): s is NodeRouteTableWriter => s instanceof NodeRouteTableWriter);
    if (writer === undefined) throw new Error("no NodeRouteTable writer among the status sinks");
    const tables = () => api.requests((r) => r.resource === `${GROUP}/${VERSION}/noderoutetables`);
    await until(() => tables().some((r) => r.verb === "watch"), "the watch of the table");
    const nodeUid = (api.get("Node", "node-a")!.metadata as { uid: string }).uid;
    return { api, writer, tables, nodeUid };
  }

  it("is back within a second or two of its deletion, owned by its Node, with its report, at the agent's own pacing", async () => {
    // The writer's minimum interval left at its default (5 s), as on a node.
    const { api, writer, tables, nodeUid } = await started();
    writer.update(report(3), undefined, "2026-01-01T00:00:00Z");
    await until(() => api.get(NRT, "node-a")?.status !== undefined, "the table");
    const before = api.get(NRT, "node-a")!;

    // An operator's `kubectl delete noderoutetable node-a`, on a quiet node.
    api.delete(NRT, "node-a");
    const deletedAt = Date.now();
    await until(() => api.get(NRT, "node-a")?.status !== undefined, "the table to be back");
    expect(Date.now() - deletedAt).toBeLessThan(2000);
    const after = api.get(NRT, "node-a")!;
    expect(after.metadata).toMatchObject({
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: "node-a", uid: nodeUid }],
      labels: { "app.kubernetes.io/managed-by": "kroute-agent" },
    });
    expect(after.status).toEqual(before.status);
    expect(after.status).toEqual(nodeRouteTableStatus(report(3), "2026-01-01T00:00:00Z"));
    // Through the writer's path: the object (created), then its status.
    const writes = tables().filter((r) => r.verb === "apply");
    expect(writes.map((r) => [r.subresource, r.status])).toEqual([
      ["", 201],
      ["status", 200],
      ["", 201],
      ["status", 200],
    ]);
  });

  it("writes once for each change of its report: its own writes, seen on its watch, bring no others", async () => {
    const { writer, tables } = await started(50);
    const writes = () => tables().filter((r) => r.verb === "apply");
    for (let programmed = 1; programmed <= 4; programmed++) {
      writer.update(report(programmed), undefined, "2026-01-01T00:00:00Z");
      await until(() => writes().length === programmed + 1, `report ${programmed} written`);
    }
    // The watch has seen every one of them by now; nothing follows.
    await sleep(500);
    await writer.settled();
    expect(writes().map((r) => r.subresource)).toEqual(["", "status", "status", "status", "status"]);
    expect(tables().filter((r) => r.verb === "list" || r.verb === "watch")).toHaveLength(2);
  });
});
