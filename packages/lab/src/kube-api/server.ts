/**
 * A Kubernetes API server test double on real HTTP (127.0.0.1, random port): list,
 * get, create, update, merge patch, server-side apply, delete and watch for the
 * resource types kroute uses, garbage collection of dependents whose owners are gone,
 * with fault injection and a request log. What it does not do like a real API server
 * is written down in DIFFERENCES.md beside it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { ApiError } from "./errors.ts";
import { createFaultInjector, type KubeApiFaults } from "./faults.ts";
import { GarbageCollector } from "./garbage-collector.ts";
import { isObject, type JsonObject } from "./json.ts";
import { readBody, sendJson } from "./json-http.ts";
import { serveObjects } from "./object-endpoints.ts";
import { RequestLog, type RequestLogEntry } from "./request-log.ts";
import {
  apiVersionOf,
  DOKS_GROUP,
  defaultResourceTypes,
  KROUTE_GROUP,
  type ResourceType,
} from "./resources.ts";
import { APPLY_PATCH, MERGE_PATCH, parseTarget, type Target, verbOf } from "./routing.ts";
import { SelectorError } from "./selectors.ts";
import { ObjectStore } from "./store.ts";
import { serveWatch } from "./watch-endpoint.ts";
import type { WatchStream } from "./watch-stream.ts";

export interface KubeApiDoubleOptions {
  /** API groups serving Route and NodeRouteTable (v1alpha1). Default: both kroute's and DOKS's. */
  readonly crdGroups?: readonly string[];
  /** How many changes watches can resume from; older resourceVersions get 410 Gone. Default 1000. */
  readonly historyLimit?: number;
  /** Bookmark period for watches that allow them. Default 60 s, as the API server's watch cache. */
  readonly bookmarkIntervalMs?: number;
  /**
   * Serve lists at resourceVersion "0" (and "not older than" ones without a limit) from a
   * watch cache, whole, as the API server does by default; false is `--watch-cache=false`:
   * every list read from etcd, paginated by its limit. Default true.
   */
  readonly watchCache?: boolean;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  /**
   * Serve HTTPS with this key and certificate (PEM), as a real API server does; the
   * kubeconfig then trusts the certificate as its CA. Default: plain HTTP.
   */
  readonly tls?: { readonly key: string; readonly cert: string };
}

/** A resource type by kind ("Route": the first CRD group's) or by apiVersion and kind. */
export type TypeRef = string | { readonly apiVersion: string; readonly kind: string };

export interface KubeApiDouble {
  readonly url: string;
  /** A kubeconfig (JSON, which is YAML) for this server, for KubeConfig.loadFromString. */
  kubeconfig(): string;
  /**
   * Make an object this (create or replace), as some controller would; `status` is
   * replaced when the object carries one, kept otherwise. JSON values only.
   */
  apply(obj: { readonly [key: string]: unknown }): JsonObject;
  get(ref: TypeRef, name: string, namespace?: string): JsonObject | undefined;
  list(ref: TypeRef, namespace?: string): JsonObject[];
  delete(ref: TypeRef, name: string, namespace?: string): JsonObject;
  readonly resourceVersion: number;
  /** Drop all watch history: resuming any older resourceVersion now answers 410 Gone. */
  compact(): void;
  setHistoryLimit(changes: number): void;
  /** Send a bookmark on every open watch that allows them, now. */
  sendBookmarks(): void;
  openWatches(): number;
  requests(filter?: (entry: RequestLogEntry) => boolean): RequestLogEntry[];
  clearRequests(): void;
  readonly faults: KubeApiFaults;
  close(): Promise<void>;
}

export async function createKubeApiDouble(options: KubeApiDoubleOptions = {}): Promise<KubeApiDouble> {
  const crdGroups = options.crdGroups ?? [KROUTE_GROUP, DOKS_GROUP];
  const types = defaultResourceTypes(crdGroups);
  const store = new ObjectStore(options.historyLimit ?? 1000);
  const collector = new GarbageCollector(store, types);
  const watches = new Set<WatchStream>();
  const log = new RequestLog();
  const injector = createFaultInjector(watches);
  const watchEndpoint = {
    store,
    watches,
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 60_000,
    eventDelayMs: injector.watchEventDelayMs,
  };

  const resolve = (ref: TypeRef): ResourceType => {
    const found =
      typeof ref === "string"
        ? types.find((t) => t.kind === ref)
        : types.find((t) => t.kind === ref.kind && apiVersionOf(t) === ref.apiVersion);
    if (found === undefined) throw new Error(`kube-api double: no resource type ${JSON.stringify(ref)}`);
    return found;
  };

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    target: Target | undefined,
    entry: RequestLogEntry,
  ): Promise<void> => {
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      throw new ApiError(401, "Unauthorized", "Unauthorized");
    }
    await injector.beforeRequest(entry);
    if (target === undefined || entry.verb === undefined) {
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    const contentType = entry.contentType ?? "";
    if (entry.verb === "patch" && contentType !== MERGE_PATCH) {
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${MERGE_PATCH}, ${APPLY_PATCH}`,
      );
    }
    const body = await readBody(req);
    if (body !== undefined) entry.body = body;
    if (entry.verb === "watch") serveWatch(watchEndpoint, res, target, url.searchParams);
    else serveObjects(store, entry.verb, target, url.searchParams, body, res, options.watchCache ?? true);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://double");
    const target = parseTarget(types, url.pathname);
    const contentType = req.headers["content-type"]?.split(";")[0]?.trim();
    const verb =
      target === undefined
        ? undefined
        : verbOf(req.method ?? "GET", target, url.searchParams, contentType ?? "");
    const entry = log.add(req, res, url, target, verb, contentType);
    handle(req, res, url, target, entry).catch((err: unknown) => {
      const apiError =
        err instanceof ApiError
          ? err
          : err instanceof SelectorError
            ? new ApiError(400, "BadRequest", err.message)
            : new ApiError(500, "InternalError", `Internal error occurred: ${String(err)}`);
      entry.status = apiError.code;
      if (res.headersSent) res.destroy();
      else sendJson(res, apiError.code, apiError.toStatus(), apiError.headers());
    });
  };
  const tls = options.tls;
  const server: Server = tls === undefined ? createServer(onRequest) : createHttpsServer(tls, onRequest);
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `${tls === undefined ? "http" : "https"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // client-node 2.x refuses plain http:// unless TLS verification is explicitly skipped.
  const trust =
    tls === undefined
      ? { "insecure-skip-tls-verify": true }
      : { "certificate-authority-data": Buffer.from(tls.cert).toString("base64") };

  return {
    url,
    kubeconfig() {
      return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "double", cluster: { server: url, ...trust } }],
        users: [{ name: "double", user: options.token === undefined ? {} : { token: options.token } }],
        contexts: [{ name: "double", context: { cluster: "double", user: "double" } }],
        "current-context": "double",
      });
    },
    apply(input) {
      const obj = structuredClone(input) as JsonObject;
      const apiVersion = String(obj.apiVersion ?? "");
      const kind = String(obj.kind ?? "");
      const type = resolve({ apiVersion, kind });
      const metadata = isObject(obj.metadata) ? obj.metadata : {};
      const namespace = type.namespaced ? String(metadata.namespace ?? "default") : "";
      return store.put(type, namespace, obj);
    },
    get(ref, name, namespace) {
      const type = resolve(ref);
      return store.get(type, type.namespaced ? (namespace ?? "default") : "", name);
    },
    list(ref, namespace) {
      return store.list(resolve(ref), namespace);
    },
    delete(ref, name, namespace) {
      const type = resolve(ref);
      return store.delete(type, type.namespaced ? (namespace ?? "default") : "", name);
    },
    get resourceVersion() {
      return store.history.resourceVersion;
    },
    compact: () => store.history.compact(),
    setHistoryLimit: (changes) => store.history.setLimit(changes),
    sendBookmarks() {
      for (const w of watches) w.bookmark();
    },
    openWatches: () => [...watches].filter((w) => !w.closed).length,
    requests: (filter) => log.entries(filter),
    clearRequests() {
      log.clear();
    },
    faults: injector.faults,
    async close() {
      collector.close();
      for (const w of watches) w.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
