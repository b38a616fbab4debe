/**
 * A Kubernetes API server test double on real HTTP (127.0.0.1, random port): list,
 * get, create, update, merge patch, server-side apply, delete and watch for the
 * resource types kroute uses, with fault injection and a request log. What it does
 * not do like a real API server is written down in DIFFERENCES.md beside it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiError } from "./errors.ts";
import { isObject, type Json, type JsonObject } from "./json.ts";
import {
  apiVersionOf,
  DOKS_GROUP,
  defaultResourceTypes,
  KROUTE_GROUP,
  type ResourceType,
  typeKey,
} from "./resources.ts";
import { parseFieldSelector, parseLabelSelector, SelectorError } from "./selectors.ts";
import { ObjectStore, type Subresource } from "./store.ts";
import { WatchStream } from "./watch-stream.ts";

export interface KubeApiDoubleOptions {
  /** API groups serving Route and NodeRouteTable (v1alpha1). Default: both kroute's and DOKS's. */
  readonly crdGroups?: readonly string[];
  /** How many changes watches can resume from; older resourceVersions get 410 Gone. Default 1000. */
  readonly historyLimit?: number;
  /** Bookmark period for watches that allow them. Default 60 s, as the API server's watch cache. */
  readonly bookmarkIntervalMs?: number;
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
}

export type Verb = "list" | "watch" | "get" | "create" | "update" | "patch" | "apply" | "delete";

export interface RequestLogEntry {
  readonly seq: number;
  /** Wall clock (ms) when the request arrived. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly verb?: Verb;
  /** `group/version/plural` of the resource addressed, e.g. "/v1/nodes". */
  readonly resource?: string;
  readonly name?: string;
  readonly namespace?: string;
  readonly subresource?: Subresource;
  readonly contentType?: string;
  body?: Json;
  status: number;
}

/** A resource type by kind ("Route": the first CRD group's) or by apiVersion and kind. */
export type TypeRef = string | { readonly apiVersion: string; readonly kind: string };

export interface FailNextOptions {
  readonly status?: number;
  /** Only requests for which this is true fail (and count). */
  readonly match?: (entry: RequestLogEntry) => boolean;
}

export interface KubeApiFaults {
  /** End every open watch: cleanly (the stream finishes) or abruptly (the connection is cut). */
  dropWatches(how?: "clean" | "abrupt"): number;
  /** Keep every open watch connected but send nothing more on it, bookmarks included. */
  stallWatches(): number;
  /** Delay every response by this long. */
  setLatency(ms: number): void;
  /** Answer the next `n` (matching) requests with an error status, 500 by default. */
  failNext(n: number, options?: FailNextOptions): void;
  clear(): void;
}

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

interface Target {
  readonly type: ResourceType;
  readonly namespace?: string;
  readonly name?: string;
  readonly subresource: Subresource;
}

/** Status reasons the API server uses with these codes (metav1.StatusReason). */
const INJECTED_REASONS: Readonly<Record<number, string>> = {
  409: "Conflict",
  410: "Expired",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

const APPLY = "application/apply-patch+yaml";
const MERGE = "application/merge-patch+json";

export async function createKubeApiDouble(options: KubeApiDoubleOptions = {}): Promise<KubeApiDouble> {
  const crdGroups = options.crdGroups ?? [KROUTE_GROUP, DOKS_GROUP];
  const types = defaultResourceTypes(crdGroups);
  const store = new ObjectStore(options.historyLimit ?? 1000);
  const bookmarkIntervalMs = options.bookmarkIntervalMs ?? 60_000;
  const watches = new Set<WatchStream>();
  const log: RequestLogEntry[] = [];
  let latencyMs = 0;
  let failures: { left: number; status: number; match: (e: RequestLogEntry) => boolean } | undefined;
  let seq = 0;

  const resolve = (ref: TypeRef): ResourceType => {
    const found =
      typeof ref === "string"
        ? types.find((t) => t.kind === ref)
        : types.find((t) => t.kind === ref.kind && apiVersionOf(t) === ref.apiVersion);
    if (found === undefined) throw new Error(`kube-api double: no resource type ${JSON.stringify(ref)}`);
    return found;
  };

  const parseTarget = (pathname: string): Target | undefined => {
    const parts = pathname
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
    let group: string;
    let rest: string[];
    let version: string;
    if (parts[0] === "api" && parts.length >= 2) {
      group = "";
      version = parts[1]!;
      rest = parts.slice(2);
    } else if (parts[0] === "apis" && parts.length >= 3) {
      group = parts[1]!;
      version = parts[2]!;
      rest = parts.slice(3);
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1]!;
      rest = rest.slice(2);
    }
    const [plural, name, sub, ...extra] = rest;
    const type = types.find((t) => t.group === group && t.version === version && t.plural === plural);
    if (type === undefined || extra.length > 0) return undefined;
    if (namespace !== undefined && !type.namespaced) return undefined;
    if (sub !== undefined && !(sub === "status" && type.statusSubresource)) return undefined;
    // Namespaced objects are addressed inside their namespace; only list and watch span them all.
    if (type.namespaced && namespace === undefined && name !== undefined) return undefined;
    return {
      type,
      ...(namespace === undefined ? {} : { namespace }),
      ...(name === undefined ? {} : { name }),
      subresource: sub === "status" ? "status" : "",
    };
  };

  const verbOf = (
    method: string,
    target: Target,
    query: URLSearchParams,
    contentType: string,
  ): Verb | undefined => {
    const watch = query.get("watch") === "true" || query.get("watch") === "1";
    if (target.name === undefined) {
      if (method === "GET") return watch ? "watch" : "list";
      if (method === "POST") return "create";
      return undefined;
    }
    switch (method) {
      case "GET":
        return "get";
      case "PUT":
        return "update";
      case "PATCH":
        return contentType === APPLY ? "apply" : "patch";
      case "DELETE":
        return "delete";
      default:
        return undefined;
    }
  };

  const readBody = async (req: IncomingMessage): Promise<Json | undefined> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if (text.trim() === "") return undefined;
    try {
      return JSON.parse(text) as Json;
    } catch {
      // apply-patch+yaml is accepted in its JSON form only (what client-node sends).
      throw new ApiError(400, "BadRequest", `the request body is not valid JSON: ${text.slice(0, 80)}`);
    }
  };

  const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };

  const bodyObject = (body: Json | undefined): JsonObject => {
    if (!isObject(body)) throw new ApiError(400, "BadRequest", "the request body must be a JSON object");
    return body;
  };

  const serveWatch = (res: ServerResponse, target: Target, query: URLSearchParams): void => {
    const labels = parseLabelSelector(query.get("labelSelector"));
    const fields = parseFieldSelector(query.get("fieldSelector"));
    const filter = {
      resource: typeKey(target.type),
      ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
      matches: (obj: JsonObject) => labels(obj) && fields(obj),
    };
    const rvParam = query.get("resourceVersion") ?? "";
    let replay: ReturnType<ObjectStore["since"]> | undefined;
    if (rvParam !== "" && rvParam !== "0") {
      const rv = Number(rvParam);
      if (!Number.isSafeInteger(rv) || rv < 0) {
        throw new ApiError(400, "BadRequest", `invalid resource version "${rvParam}"`);
      }
      replay = store.since(rv);
    }
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    const stream = new WatchStream(res, filter);
    if (replay === "expired") {
      const gone = new ApiError(
        410,
        "Expired",
        `too old resource version: ${rvParam} (${store.compactedRv + 1})`,
      );
      stream.send("ERROR", gone.toStatus() as JsonObject);
      stream.end();
      return;
    }
    watches.add(stream);
    if (replay === undefined) {
      // No resourceVersion (or "0"): the current state as synthetic ADDED events first.
      for (const obj of store.list(target.type, target.namespace))
        if (filter.matches(obj)) stream.send("ADDED", obj);
    } else for (const change of replay) stream.deliver(change);
    const unsubscribe = store.subscribe((change) => stream.deliver(change));
    const bookmark = () =>
      stream.send("BOOKMARK", {
        kind: target.type.kind,
        apiVersion: apiVersionOf(target.type),
        metadata: { resourceVersion: String(store.resourceVersion) },
      });
    const allowBookmarks = query.get("allowWatchBookmarks") === "true";
    const bookmarks = allowBookmarks ? setInterval(bookmark, bookmarkIntervalMs) : undefined;
    const timeoutSeconds = Number(query.get("timeoutSeconds") ?? "0");
    const timeout =
      timeoutSeconds > 0
        ? setTimeout(() => {
            if (stream.stalled) return;
            if (allowBookmarks) bookmark();
            stream.end();
          }, timeoutSeconds * 1000)
        : undefined;
    if (allowBookmarks) stream.setBookmarker(bookmark);
    stream.onClose(() => {
      unsubscribe();
      clearInterval(bookmarks);
      clearTimeout(timeout);
      watches.delete(stream);
    });
  };

  const serve = (
    verb: Verb,
    target: Target,
    query: URLSearchParams,
    body: Json | undefined,
    res: ServerResponse,
  ) => {
    const { type, subresource } = target;
    const namespace = target.namespace ?? "";
    const name = target.name ?? "";
    const manager = query.get("fieldManager") ?? undefined;
    switch (verb) {
      case "watch":
        return serveWatch(res, target, query);
      case "list": {
        const labels = parseLabelSelector(query.get("labelSelector"));
        const fields = parseFieldSelector(query.get("fieldSelector"));
        const items = store.list(type, target.namespace).filter((o) => labels(o) && fields(o));
        return sendJson(res, 200, {
          kind: `${type.kind}List`,
          apiVersion: apiVersionOf(type),
          metadata: { resourceVersion: String(store.resourceVersion) },
          items,
        });
      }
      case "get": {
        const obj = store.get(type, namespace, name);
        if (obj === undefined) throw new ApiError(404, "NotFound", `${type.plural} "${name}" not found`);
        return sendJson(res, 200, obj);
      }
      case "create": {
        const obj = bodyObject(body);
        const bodyNs = isObject(obj.metadata) ? obj.metadata.namespace : undefined;
        if (type.namespaced && bodyNs !== undefined && bodyNs !== namespace) {
          throw new ApiError(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
          );
        }
        return sendJson(res, 201, store.create(type, namespace, obj, manager ?? "unknown"));
      }
      case "update":
        return sendJson(
          res,
          200,
          store.update(type, namespace, name, bodyObject(body), subresource, manager ?? "unknown"),
        );
      case "patch":
        return sendJson(
          res,
          200,
          store.mergePatch(type, namespace, name, bodyObject(body), subresource, manager ?? "unknown"),
        );
      case "apply": {
        const existed = store.get(type, namespace, name) !== undefined;
        const force = query.get("force") === "true";
        const obj = store.apply(type, namespace, name, bodyObject(body), subresource, manager, force);
        return sendJson(res, existed ? 200 : 201, obj);
      }
      case "delete":
        return sendJson(res, 200, store.delete(type, namespace, name));
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, entry: RequestLogEntry): Promise<void> => {
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      throw new ApiError(401, "Unauthorized", "Unauthorized");
    }
    if (failures !== undefined && failures.left > 0 && failures.match(entry)) {
      failures.left--;
      const reason = INJECTED_REASONS[failures.status] ?? "InternalError";
      throw new ApiError(failures.status, reason, `${reason}: injected by the test double`);
    }
    if (latencyMs > 0) await sleep(latencyMs);
    const url = new URL(req.url ?? "/", "http://double");
    const target = parseTarget(url.pathname);
    if (target === undefined || entry.verb === undefined) {
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    const contentType = entry.contentType ?? "";
    if (entry.verb === "patch" && contentType !== MERGE) {
      throw new ApiError(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: ${MERGE}, ${APPLY}`,
      );
    }
    const body = await readBody(req);
    if (body !== undefined) entry.body = body;
    serve(entry.verb, target, url.searchParams, body, res);
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://double");
    const target = parseTarget(url.pathname);
    const contentType = req.headers["content-type"]?.split(";")[0]?.trim();
    const verb =
      target === undefined
        ? undefined
        : verbOf(req.method ?? "GET", target, url.searchParams, contentType ?? "");
    const entry: RequestLogEntry = {
      seq: ++seq,
      at: Date.now(),
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(verb === undefined ? {} : { verb }),
      ...(target === undefined ? {} : { resource: typeKey(target.type), subresource: target.subresource }),
      ...(target?.name === undefined ? {} : { name: target.name }),
      ...(target?.namespace === undefined ? {} : { namespace: target.namespace }),
      ...(contentType === undefined ? {} : { contentType }),
      status: 0,
    };
    log.push(entry);
    res.on("finish", () => {
      entry.status = res.statusCode;
    });
    entry.status = 200;
    handle(req, res, entry).catch((err: unknown) => {
      const apiError =
        err instanceof ApiError
          ? err
          : err instanceof SelectorError
            ? new ApiError(400, "BadRequest", err.message)
            : new ApiError(500, "InternalError", `Internal error occurred: ${String(err)}`);
      entry.status = apiError.code;
      if (res.headersSent) res.destroy();
      else sendJson(res, apiError.code, apiError.toStatus());
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const faults: KubeApiFaults = {
    dropWatches(how = "abrupt") {
      const open = [...watches];
      for (const w of open) {
        if (how === "clean") w.end();
        else w.destroy();
      }
      return open.length;
    },
    stallWatches() {
      for (const w of watches) w.stall();
      return watches.size;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    failNext(n, opts = {}) {
      failures = { left: n, status: opts.status ?? 500, match: opts.match ?? (() => true) };
    },
    clear() {
      latencyMs = 0;
      failures = undefined;
    },
  };

  return {
    url,
    kubeconfig() {
      return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        // client-node 2.x refuses plain http:// unless TLS verification is explicitly skipped.
        clusters: [{ name: "double", cluster: { server: url, "insecure-skip-tls-verify": true } }],
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
      return store.resourceVersion;
    },
    compact: () => store.compact(),
    setHistoryLimit: (changes) => store.setHistoryLimit(changes),
    sendBookmarks() {
      for (const w of watches) w.bookmark();
    },
    openWatches: () => [...watches].filter((w) => !w.closed).length,
    requests: (filter) => (filter === undefined ? [...log] : log.filter(filter)),
    clearRequests() {
      log.length = 0;
    },
    faults,
    async close() {
      for (const w of watches) w.destroy();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
