/** Every verb but watch: one store call each, answered as the API server answers it. */
import type { ServerResponse } from "node:http";
import { ApiError } from "./errors.ts";
import { isObject, type Json } from "./json.ts";
import { bodyObject, sendJson } from "./json-http.ts";
import { listPage } from "./list-pages.ts";
import { apiVersionOf } from "./resources.ts";
import type { Target, Verb } from "./routing.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import type { ObjectStore } from "./store.ts";

export function serveObjects(
  store: ObjectStore,
  verb: Exclude<Verb, "watch">,
  target: Target,
  query: URLSearchParams,
  body: Json | undefined,
  res: ServerResponse,
  watchCache: boolean,
) {
  const { type, subresource } = target;
  const namespace = target.namespace ?? "";
  const name = target.name ?? "";
  const manager = query.get("fieldManager") ?? undefined;
  switch (verb) {
    case "list": {
      const labels = parseLabelSelector(query.get("labelSelector"));
      const fields = parseFieldSelector(query.get("fieldSelector"));
      const filtered = query.has("labelSelector") || query.has("fieldSelector");
      const page = listPage(
        store,
        type,
        target.namespace,
        query,
        (o) => labels(o) && fields(o),
        filtered,
        watchCache,
      );
      return sendJson(res, 200, {
        kind: `${type.kind}List`,
        apiVersion: apiVersionOf(type),
        metadata: {
          resourceVersion: String(page.resourceVersion),
          ...(page.continue === undefined ? {} : { continue: page.continue }),
          ...(page.remainingItemCount === undefined ? {} : { remainingItemCount: page.remainingItemCount }),
        },
        items: page.items,
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
}
