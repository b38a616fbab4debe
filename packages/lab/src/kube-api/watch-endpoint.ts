/**
 * GET ...?watch=true: replay from the requested resourceVersion (or the current state
 * as ADDED events), then live changes, with bookmarks and `timeoutSeconds`; a
 * compacted resourceVersion gets one 410 ERROR event, as the watch cache sends.
 */
import type { ServerResponse } from "node:http";
import type { Change } from "./change-history.ts";
import { ApiError } from "./errors.ts";
import type { JsonObject } from "./json.ts";
import { apiVersionOf, typeKey } from "./resources.ts";
import type { Target } from "./routing.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import type { ObjectStore } from "./store.ts";
import { WatchStream } from "./watch-stream.ts";

export interface WatchEndpoint {
  readonly store: ObjectStore;
  /** The open watches, for faults and bookmarks; a watch leaves it when its connection closes. */
  readonly watches: Set<WatchStream>;
  readonly bookmarkIntervalMs: number;
  /** How late each watch event leaves (the slow-watch fault). */
  readonly eventDelayMs: () => number;
}

export function serveWatch(
  { store, watches, bookmarkIntervalMs, eventDelayMs }: WatchEndpoint,
  res: ServerResponse,
  target: Target,
  query: URLSearchParams,
): void {
  const labels = parseLabelSelector(query.get("labelSelector"));
  const fields = parseFieldSelector(query.get("fieldSelector"));
  const filter = {
    resource: typeKey(target.type),
    ...(target.namespace === undefined ? {} : { namespace: target.namespace }),
    matches: (obj: JsonObject) => labels(obj) && fields(obj),
  };
  const rvParam = query.get("resourceVersion") ?? "";
  let replay: Change[] | "expired" | undefined;
  /** Changes at or below this were asked not to be sent: a watch from a future version waits past it. */
  let after = 0;
  if (rvParam !== "" && rvParam !== "0") {
    const rv = Number(rvParam);
    if (!Number.isSafeInteger(rv) || rv < 0) {
      throw new ApiError(400, "BadRequest", `invalid resource version "${rvParam}"`);
    }
    replay = store.history.since(rv);
    after = rv;
  }
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
  res.flushHeaders();
  const stream = new WatchStream(res, filter, eventDelayMs);
  if (replay === "expired") {
    const gone = new ApiError(
      410,
      "Expired",
      `too old resource version: ${rvParam} (${store.history.compactedRv + 1})`,
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
  const unsubscribe = store.history.subscribe((change) => {
    if (change.rv > after) stream.deliver(change);
  });
  const bookmark = () =>
    stream.send("BOOKMARK", {
      kind: target.type.kind,
      apiVersion: apiVersionOf(target.type),
      metadata: { resourceVersion: String(store.history.resourceVersion) },
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
}
