/**
 * The agent's few Kubernetes requests (list, create, server-side apply) as JSON over
 * one connection pool, authenticated by client-node's KubeConfig (in-cluster,
 * kubeconfig files, tokens, client certificates, exec plugins, proxies).
 *
 * Why not client-node's generated API classes: importing them loads a model class for
 * every kind in the Kubernetes API (about a quarter of the agent's memory budget), and
 * in client-node 2.0 every call builds a new undici Agent, that is a new connection pool
 * and TLS handshake, left open behind it: a start with 1,000 Routes to write status for
 * held 500 pools. Here one pool serves every request while the TLS material stays the
 * same; credentials (a rotated service-account token) are read again for each request.
 * Watches stay on client-node's `Watch` (list-watch.ts): few, and long-lived.
 */
import { createHash } from "node:crypto";
import type { RequestOptions } from "node:https";
import type { DispatcherOptions, KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { Agent, type Dispatcher, ProxyAgent, request } from "undici";

/** A request the API server answered with an error status; `code` is the HTTP status. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string | undefined;

  constructor(method: string, path: string, code: number, status: { message?: unknown; reason?: unknown }) {
    const message = typeof status.message === "string" ? status.message : `HTTP ${code}`;
    super(`${method} ${path}: ${code} ${message}`);
    this.name = "KubeApiError";
    this.code = code;
    this.reason = typeof status.reason === "string" ? status.reason : undefined;
  }
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface ApplyOptions {
  readonly fieldManager: string;
  /** Take fields over from other managers instead of failing with 409 Conflict. */
  readonly force?: boolean;
}

/** How long one request may take, answer included: an API server that hangs is an error, not a stuck writer. */
const REQUEST_TIMEOUT_MS = 30_000;

const clients = new WeakMap<KubeConfig, KubeClient>();

export class KubeClient {
  readonly #kc: KubeConfig;
  #pool: { readonly key: string; readonly dispatcher: Dispatcher | undefined } | undefined;

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

  /** A collection, with its resourceVersion (where a watch of it starts). */
  async list<T>(
    path: string,
    query: Query = {},
  ): Promise<{ readonly items: readonly T[]; readonly resourceVersion: string }> {
    const list = (await this.request("GET", path, query)) as {
      items?: T[] | null;
      metadata?: { resourceVersion?: string };
    };
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? "" };
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
    method: "GET" | "POST" | "PATCH",
    path: string,
    query: Query = {},
    body?: unknown,
    contentType?: string,
  ): Promise<unknown> {
    const server = this.#kc.getCurrentCluster()?.server;
    if (server === undefined) throw new Error("kubeconfig: the current context names no cluster");
    const url = new URL(path, server);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const options: RequestOptions = {};
    await this.#kc.applyToHTTPSOptions(options);
    const headers: Record<string, string> = { accept: "application/json" };
    for (const [key, value] of Object.entries(options.headers ?? {})) {
      if (value !== undefined) headers[key.toLowerCase()] = String(value);
    }
    if (options.auth !== undefined && options.auth !== null) {
      headers.authorization = `Basic ${Buffer.from(options.auth).toString("base64")}`;
    }
    if (contentType !== undefined) headers["content-type"] = contentType;
    const response = await request(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...this.#dispatcherFor(options),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.body.text();
    const parsed = parseJson(text);
    if (response.statusCode >= 400) {
      throw new KubeApiError(method, url.pathname, response.statusCode, isObject(parsed) ? parsed : {});
    }
    return parsed;
  }

  /** The pool for this TLS material and proxy; a new one (and the old closed) when they change. */
  #dispatcherFor(options: RequestOptions): { dispatcher?: Dispatcher } {
    const cluster = this.#kc.getCurrentCluster();
    const wanted = this.#kc.createDispatcherOptions(cluster, {
      ...pick(options, ["ca", "cert", "key", "pfx", "passphrase", "servername"]),
      ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    });
    const key = fingerprint(wanted);
    if (this.#pool?.key !== key) {
      // The old pool finishes the requests it has in flight, then closes; nothing waits for it.
      this.#pool?.dispatcher?.close().catch(() => undefined);
      this.#pool = { key, dispatcher: newDispatcher(wanted) };
    }
    return this.#pool.dispatcher === undefined ? {} : { dispatcher: this.#pool.dispatcher };
  }
}

/**
 * client-node's options are undici's, typed without exactOptionalPropertyTypes (an
 * absent field may be present as undefined, which undici treats as absent).
 */
type Connect = NonNullable<Agent.Options["connect"]>;
type RequestTls = NonNullable<ProxyAgent.Options["requestTls"]>;

function newDispatcher(options: DispatcherOptions): Dispatcher | undefined {
  switch (options.type) {
    case "none":
      return undefined;
    case "agent":
      return new Agent({ connect: options.connect as Connect });
    case "proxy":
      return new ProxyAgent({
        uri: options.uri,
        requestTls: options.requestTls as RequestTls,
        connect: options.connect as Connect,
      });
    case "socks":
      throw new Error(
        `kubeconfig: proxy-url ${JSON.stringify(options.uri)}: SOCKS proxies are not supported; use an HTTP(S) proxy`,
      );
  }
}

/** A digest of the TLS material and proxy, so that the keys and certificates are not kept twice. */
function fingerprint(options: DispatcherOptions): string {
  const json = JSON.stringify(options, (_key, value: unknown) =>
    Buffer.isBuffer(value) ? value.toString("base64") : value,
  );
  return createHash("sha256").update(json).digest("hex");
}

function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (object[key] !== undefined) out[key] = object[key];
  return out;
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
