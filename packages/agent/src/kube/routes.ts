/**
 * All Routes, cluster-wide, as engine events: `route/resynced` after every list (a
 * full snapshot), then `route/upserted` and `route/deleted`. Changes that cannot matter
 * to the engine (status writes by any node, resourceVersion bumps) are not forwarded:
 * with thousands of nodes writing status, they are most of the watch traffic.
 */

import type { EventBody, RouteObject } from "@kroute/core";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { Observable } from "rxjs";
import { type SupervisorOptions, superviseListWatch } from "./list-watch.ts";
import { type KubeRoute, RouteCache } from "./route-cache.ts";
import { boundSpecDepth } from "./spec-depth.ts";

export interface RouteWatchOptions extends SupervisorOptions {
  /** API group: networking.kroute.dev, or networking.doks.digitalocean.com with --api-group. */
  readonly group: string;
  readonly version: string;
  /** Filled as Routes arrive, status included, for the status writer. */
  readonly cache?: RouteCache;
}

/** What the engine gets of a Route: identity, generation, age and spec; never status. */
export function toRouteObject(route: KubeRoute): RouteObject | undefined {
  const metadata = route.metadata;
  if (metadata === undefined || typeof metadata.name !== "string" || metadata.name === "") return undefined;
  return {
    ...(route.apiVersion === undefined ? {} : { apiVersion: route.apiVersion }),
    ...(route.kind === undefined ? {} : { kind: route.kind }),
    metadata: {
      name: metadata.name,
      ...(typeof metadata.generation === "number" ? { generation: metadata.generation } : {}),
      ...(typeof metadata.creationTimestamp === "string"
        ? { creationTimestamp: metadata.creationTimestamp }
        : {}),
      ...(typeof metadata.uid === "string" ? { uid: metadata.uid } : {}),
    },
    spec: boundSpecDepth(route.spec ?? null),
  };
}

function sameForEngine(a: RouteObject | undefined, b: RouteObject | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function watchRoutes(kc: KubeConfig, options: RouteWatchOptions): Observable<EventBody> {
  const { group, version } = options;
  const cache = options.cache ?? new RouteCache();
  const source = superviseListWatch<KubeRoute>(
    kc,
    { name: "routes", path: `/apis/${group}/${version}/routes` },
    options,
  );

  return new Observable<EventBody>((subscriber) => {
    const subscription = source.subscribe({
      next: (event) => {
        switch (event.type) {
          case "synced": {
            cache.replaceAll(event.items);
            const routes = event.items.flatMap((r) => toRouteObject(r) ?? []);
            subscriber.next({ type: "route/resynced", routes });
            return;
          }
          case "added":
          case "modified": {
            const name = event.object.metadata?.name;
            const route = toRouteObject(event.object);
            if (name === undefined || route === undefined) return;
            const before = cache.get(name);
            cache.set(event.object);
            if (before !== undefined && sameForEngine(toRouteObject(before), route)) return;
            subscriber.next({ type: "route/upserted", route });
            return;
          }
          case "deleted": {
            const name = event.object.metadata?.name;
            if (name === undefined) return;
            cache.delete(name);
            subscriber.next({ type: "route/deleted", name });
            return;
          }
        }
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    return () => subscription.unsubscribe();
  });
}
