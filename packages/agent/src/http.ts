/**
 * The agent's HTTP endpoints: `/livez` and `/readyz` on the health address (loopback),
 * `/metrics` on the metrics address. When both addresses are the same, one server
 * serves all three.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { ListenAddress } from "./settings.ts";

export interface HealthState {
  /** Alive: the engine loop is running (not wedged or crashed). `reason` says what is wrong. */
  live(): { live: boolean; reason: string };
  /** Ready: every source has delivered its first full sync. `reason` says what is missing. */
  ready(): { ready: boolean; reason: string };
}

export interface HttpEndpoints {
  /** Actual bound addresses (port 0 picks a free one, as tests do). */
  readonly health: ListenAddress;
  readonly metrics: ListenAddress;
  close(): Promise<void>;
}

type Handler = (path: string) => Promise<{ status: number; type: string; body: string }> | undefined;

function serve(address: ListenAddress, handlers: readonly Handler[]): Promise<Server> {
  const server = createServer((request, response) => {
    // Before any handler runs: a refused request starts no work (whose failure nobody would wait for).
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    const answer = handlers.map((h) => h(path)).find((a) => a !== undefined);
    if (answer === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    answer.then(
      ({ status, type, body }) => response.writeHead(status, { "content-type": type }).end(body),
      (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

function boundAddress(server: Server): ListenAddress {
  const info = server.address() as AddressInfo;
  return { host: info.address, port: info.port };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startHttp(options: {
  health: ListenAddress;
  metrics: ListenAddress;
  state: HealthState;
  registry: Registry;
}): Promise<HttpEndpoints> {
  const healthHandler: Handler = (path) => {
    if (path === "/livez") {
      const { live, reason } = options.state.live();
      return Promise.resolve({ status: live ? 200 : 503, type: "text/plain", body: `${reason}\n` });
    }
    if (path === "/readyz") {
      const { ready, reason } = options.state.ready();
      return Promise.resolve({ status: ready ? 200 : 503, type: "text/plain", body: `${reason}\n` });
    }
    return undefined;
  };
  const metricsHandler: Handler = (path) =>
    path === "/metrics"
      ? options.registry.metrics().then((body) => ({ status: 200, type: options.registry.contentType, body }))
      : undefined;
  // Port 0 asks for any free port: two such addresses are two servers.
  const same =
    options.health.port !== 0 &&
    options.health.host === options.metrics.host &&
    options.health.port === options.metrics.port;
  const health = await serve(options.health, same ? [healthHandler, metricsHandler] : [healthHandler]);
  let metrics: Server;
  try {
    metrics = same ? health : await serve(options.metrics, [metricsHandler]);
  } catch (error) {
    await closeServer(health);
    throw error;
  }
  return {
    health: boundAddress(health),
    metrics: boundAddress(metrics),
    async close() {
      await closeServer(health);
      if (!same) await closeServer(metrics);
    },
  };
}
