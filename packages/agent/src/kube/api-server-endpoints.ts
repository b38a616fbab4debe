/**
 * The API server's real endpoint addresses, from the EndpointSlices of the `kubernetes`
 * Service in `default` or the namespace given (`--api-server-namespace`) (not its
 * ClusterIP, which only works through kube-proxy rules
 * the default-route override must not depend on). Feeds the protected addresses of
 * `host/observed`. Emits the sorted, distinct addresses of ready endpoints after every
 * list and whenever they change.
 */

import { compareAddresses, type IpAddr, parseIp } from "@kroute/core";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { Observable } from "rxjs";
import { type SupervisorOptions, superviseListWatch } from "./list-watch.ts";

interface KubeEndpointSlice {
  readonly metadata?: { readonly name?: string; readonly resourceVersion?: string };
  readonly endpoints?: readonly {
    readonly addresses?: readonly string[];
    readonly conditions?: { readonly ready?: boolean | null };
  }[];
}

export interface ApiServerEndpointsOptions extends SupervisorOptions {
  readonly namespace?: string;
  readonly service?: string;
}

function addressesOf(slice: KubeEndpointSlice): IpAddr[] {
  return (slice.endpoints ?? []).flatMap((endpoint) =>
    // Ready unless stated otherwise (a nil ready condition means ready, per the EndpointSlice API).
    endpoint.conditions?.ready === false
      ? []
      : (endpoint.addresses ?? []).flatMap((a) => {
          const parsed = parseIp(a);
          return parsed.ok ? [parsed.value] : [];
        }),
  );
}

export function watchApiServerEndpoints(
  kc: KubeConfig,
  options: ApiServerEndpointsOptions = {},
): Observable<readonly IpAddr[]> {
  const namespace = options.namespace ?? "default";
  const labelSelector = `kubernetes.io/service-name=${options.service ?? "kubernetes"}`;
  const source = superviseListWatch<KubeEndpointSlice>(
    kc,
    {
      name: "apiserver-endpoints",
      path: `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`,
      labelSelector,
    },
    options,
  );

  return new Observable<readonly IpAddr[]>((subscriber) => {
    const slices = new Map<string, IpAddr[]>();
    let last: string | undefined;
    const emit = (force: boolean) => {
      const all = [...new Set([...slices.values()].flat())].sort(compareAddresses);
      const key = all.join(",");
      if (!force && key === last) return;
      last = key;
      subscriber.next(all);
    };
    const subscription = source.subscribe({
      next: (event) => {
        switch (event.type) {
          case "synced":
            slices.clear();
            for (const slice of event.items) slices.set(slice.metadata?.name ?? "", addressesOf(slice));
            emit(true);
            return;
          case "added":
          case "modified":
            slices.set(event.object.metadata?.name ?? "", addressesOf(event.object));
            emit(false);
            return;
          case "deleted":
            slices.delete(event.object.metadata?.name ?? "");
            emit(false);
            return;
        }
      },
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    return () => subscription.unsubscribe();
  });
}
