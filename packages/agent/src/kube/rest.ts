/**
 * The agent's Kubernetes requests (list, watch, create, server-side apply) as JSON over
 * node:http(s), authenticated by client-node's KubeConfig (in-cluster, kubeconfig
 * files, tokens, client certificates, exec plugins, proxies) through its
 * `applyToHTTPSOptions`, the form client-node itself uses for its WebSockets.
 *
 * Why not client-node's generated API classes or its `Watch`: the generated classes
 * load a model class for every kind in the Kubernetes API, and both speak through the
 * undici package, whose evaluation alone holds about 9 MiB of a 100 MiB budget (the
 * bundle leaves it out: deploy/bundle.ts). In client-node 2.0 every generated call also
 * built a new connection pool and TLS handshake, left open behind it: a start with
 * 1,000 Routes to write status for held 500 pools.
 *
 * Here requests share a small pool of kept-alive connections, and watches (each holds
 * its connection for minutes) have connections of their own, so they never wait behind
 * each other. Without the bound, the status writes after a sync of 1,000 Routes opened
 * over a hundred TLS connections at once, about 10 MiB. Node pools sockets by TLS
 * material (CA, client certificate, server name), so a rotated certificate gets new
 * connections on its own; credentials (a rotated service-account token) are read again
 * for each request.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";

/** A request the API server answered with an error status; `code` is the HTTP status. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string | undefined;
  /**
   * How long the server asked the client to wait before trying again (a 429 from API
   * Priority and Fairness, a 5xx of a server starting or shedding load), as client-go
   * reads it: the Retry-After header in seconds, else the Status's details.retryAfterSeconds.
   */
  readonly retryAfterMs: number | undefined;

  constructor(
    method: string,
    path: string,
    code: number,
    status: { message?: unknown; reason?: unknown; details?: unknown },
    retryAfterHeader?: string,
  ) {
    const message = typeof status.message === "string" ? status.message : `HTTP ${code}`;
    super(`${method} ${path}: ${code} ${message}`);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = typeof status.reason === "string" ? status.reason : undefined;
    this.retryAfterMs =
      code === 429 || code >= 500 ? retryAfterMs(retryAfterHeader, status.details) : undefined;
  }
}

/** Whole seconds only, as client-go takes them (an HTTP-date is not honoured there either). */
function retryAfterMs(header: string | undefined, details: unknown): number | undefined {
  const fromHeader = header !== undefined && /^\d+$/.test(header.trim()) ? Number(header.trim()) : undefined;
  const fromDetails = isObject(details) ? details.retryAfterSeconds : undefined;
  const seconds =
    fromHeader ??
    (typeof fromDetails === "number" && Number.isFinite(fromDetails) && fromDetails >= 0
      ? fromDetails
      : undefined);
  return seconds === undefined ? undefined : seconds * 1000;
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface ApplyOptions {
  readonly fieldManager: string;
  /** Take fields over from other managers instead of failing with 409 Conflict. */
  readonly force?: boolean;
}

/** One line of a watch: `type` is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
export type WatchHandler = (type: string, object: unknown) => void;

type Method = "GET" | "POST" | "PATCH";

/** How long one request may take, answer included: an API server that hangs is an error, not a stuck writer. */
const REQUEST_TIMEOUT_MS = 30_000;

/** Connections for requests: enough for hundreds of writes a second; an idle one closes after 30 s. */
const REQUEST_POOL = { keepAlive: true, maxSockets: 4, maxFreeSockets: 4, timeout: 30_000 };

const clients = new WeakMap<KubeConfig, KubeClient>();

export class KubeClient {
  readonly #kc: KubeConfig;
  readonly #requestAgents = { "http:": new HttpAgent(REQUEST_POOL), "https:": new HttpsAgent(REQUEST_POOL) };
  readonly #watchAgents = { "http:": new HttpAgent(), "https:": new HttpsAgent() };

  /** The one client of a KubeConfig, so every part of the agent shares its connections. */
  static for(kc: KubeConfig): KubeClient {
    let client = clients.get(kc);
    if (client === undefined) {
      client = new KubeClient(kc);
      clients.set(kc, client);
    }
    return client;
  }

  private constructor(kc: KubeConfig) {
    this.#kc = kc;
  }

  /**
   * A collection (or one page of it, with `limit`), with its resourceVersion (where a
   * watch of it starts) and, when more pages follow, the token that asks for the next.
   */
  async list<T>(
    path: string,
    query: Query = {},
  ): Promise<{ readonly items: readonly T[]; readonly resourceVersion: string; readonly continue?: string }> {
    const list = (await this.request("GET", path, query)) as {
      items?: T[] | null;
      metadata?: { resourceVersion?: string; continue?: string };
    };
    const next = list.metadata?.continue;
    return {
      items: list.items ?? [],
      resourceVersion: list.metadata?.resourceVersion ?? "",
      ...(typeof next === "string" && next !== "" ? { continue: next } : {}),
    };
  }

  create(path: string, body: unknown): Promise<unknown> {
    return this.request("POST", path, {}, body, "application/json");
  }

  /** Server-side apply: `body` states the fields this manager owns, and only those. */
  apply(path: string, body: unknown, options: ApplyOptions): Promise<unknown> {
    const query = { fieldManager: options.fieldManager, force: options.force };
    // JSON is YAML: the apply content type takes either.
    return this.request("PATCH", path, query, body, "application/apply-patch+yaml");
  }

  async request(
    method: Method,
    path: string,
    query: Query = {},
    body?: unknown,
    contentType?: string,
  ): Promise<unknown> {
    const signal = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const { response, url } = await this.#send(
      method,
      path,
      query,
      signal,
      this.#requestAgents,
      body,
      contentType,
    );
    const parsed = parseJson(await readText(response));
    if ((response.statusCode ?? 0) >= 400) throw apiError(method, url, response, parsed);
    return parsed;
  }

  /**
   * Watches `path` (query: resourceVersion, selectors, timeoutSeconds...), calling
   * `onEvent` for each line the server sends. Resolves when the server ends the watch;
   * rejects on an error status (a KubeApiError: 410 Gone when the resourceVersion is
   * too old), a broken connection, a line that is not JSON, or `signal` aborting.
   * No timeout of its own: the caller's watchdog decides when a quiet watch is stuck.
   */
  async watch(path: string, query: Query, onEvent: WatchHandler, signal: AbortSignal): Promise<void> {
    const { response, url } = await this.#send(
      "GET",
      path,
      { ...query, watch: true },
      signal,
      this.#watchAgents,
    );
    if ((response.statusCode ?? 0) >= 400) {
      throw apiError("GET", url, response, parseJson(await readText(response)));
    }
    await readJsonLines(response, (line) => {
      const event = line as { type?: unknown; object?: unknown };
      onEvent(String(event.type), event.object);
    });
  }

  async #send(
    method: Method,
    path: string,
    query: Query,
    signal: AbortSignal,
    agents: { readonly "http:": HttpAgent; readonly "https:": HttpsAgent },
    body?: unknown,
    contentType?: string,
  ): Promise<{ readonly response: IncomingMessage; readonly url: URL }> {
    const cluster = this.#kc.getCurrentCluster();
    if (cluster === null) throw new Error("kubeconfig: the current context names no cluster");
    // Appended, not resolved: a server URL may carry a path of its own (an API proxy's).
    const url = new URL(cluster.server.replace(/\/+$/, "") + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const options: RequestOptions = {};
    // Credentials may take a while (an exec plugin): a stop or the timeout during that
    // wait ends the request before it is sent, or nothing could abort it afterwards.
    await untilAborted(this.#kc.applyToHTTPSOptions(options), signal, () => stopReason(signal, method, url));
    const secure = url.protocol === "https:";
    if (!secure && url.protocol !== "http:")
      throw new Error(`kubeconfig: server ${cluster.server}: not http(s)`);
    const headers: Record<string, string> = { ...stringHeaders(options.headers), accept: "application/json" };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) {
      headers["content-type"] = contentType ?? "application/json";
      headers["content-length"] = String(Buffer.byteLength(payload));
    }
    // A proxy (proxy-url) is the agent client-node built for it; otherwise the shared pool.
    const agent = cluster.proxyUrl ? options.agent : agents[secure ? "https:" : "http:"];
    const send = secure ? httpsRequest : httpRequest;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      let answer: IncomingMessage | undefined;
      const req = send(url, { ...options, method, headers, agent }, (res) => {
        answer = res;
        resolve(res);
      });
      // Not http.request's own `signal`: aborting a request whose answer has ended can
      // destroy its socket after it went back to the pool. Only an unfinished one stops.
      const abort = () => {
        if (answer?.complete !== true) req.destroy(stopReason(signal, method, url));
      };
      signal.addEventListener("abort", abort, { once: true });
      req.once("close", () => signal.removeEventListener("abort", abort));
      req.on("error", reject);
      req.end(payload);
    });
    return { response, url };
  }
}

function apiError(method: Method, url: URL, response: IncomingMessage, parsed: unknown): KubeApiError {
  const retryAfter = response.headers["retry-after"];
  return new KubeApiError(
    method,
    url.pathname,
    response.statusCode ?? 0,
    isObject(parsed) ? parsed : {},
    typeof retryAfter === "string" ? retryAfter : undefined,
  );
}

/** `work`'s outcome, or `stopped()` as soon as `signal` aborts (at once when it already has). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal, stopped: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(stopped());
  return new Promise<T>((resolve, reject) => {
    const abort = () => reject(stopped());
    signal.addEventListener("abort", abort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", abort));
  });
}

/** Why a request stopped: a timeout says so and names the request; otherwise the caller's reason. */
function stopReason(signal: AbortSignal, method: Method, url: URL): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return Object.assign(
      new Error(`${method} ${url.pathname}: no answer in ${REQUEST_TIMEOUT_MS / 1000} s`),
      {
        name: "TimeoutError",
      },
    );
  }
  return reason instanceof Error ? reason : new Error(`${method} ${url.pathname}: stopped`);
}

function stringHeaders(headers: RequestOptions["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  if (headers === undefined || Array.isArray(headers)) return out;
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined) out[key.toLowerCase()] = String(value);
  }
  return out;
}

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      text += chunk;
    });
    response.once("end", () => resolve(text));
    rejectIfCut(response, reject);
  });
}

/** A response that breaks off (an error, or the connection closing before its end) rejects. */
function rejectIfCut(response: IncomingMessage, reject: (error: Error) => void): void {
  response.on("error", reject);
  response.once("close", () => {
    if (!response.complete) reject(new Error("the connection closed before the answer was complete"));
  });
}

/** Calls `onLine` with each newline-terminated JSON value of the stream, in order. */
function readJsonLines(response: IncomingMessage, onLine: (value: unknown) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let pending = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf("\n");
      while (newline !== -1) {
        const line = pending.slice(0, newline).trim();
        pending = pending.slice(newline + 1);
        if (line !== "") {
          let value: unknown;
          try {
            value = JSON.parse(line);
          } catch {
            response.destroy(new Error(`watch: a line that is not JSON: ${line.slice(0, 200)}`));
            return;
          }
          onLine(value);
        }
        newline = pending.indexOf("\n");
      }
    });
    response.once("end", () => resolve());
    rejectIfCut(response, reject);
  });
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}
