/**
 * The Routes as last seen on the watch, status included: what the status writer needs
 * to know whether the Accepted condition is already right, without reading the API.
 */
import type { KubeObject } from "./list-watch.ts";

export interface KubeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

/** A Route as the API serves it (nothing about it is trusted). */
export interface KubeRoute extends KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly resourceVersion?: string;
    readonly generation?: number;
    readonly creationTimestamp?: string;
    readonly uid?: string;
  };
  readonly spec?: unknown;
  readonly status?: { readonly conditions?: readonly KubeCondition[] };
}

export class RouteCache {
  readonly #byName = new Map<string, KubeRoute>();

  replaceAll(routes: readonly KubeRoute[]): void {
    this.#byName.clear();
    for (const route of routes) this.set(route);
  }

  set(route: KubeRoute): void {
    const metadata = route.metadata;
    if (metadata?.name === undefined) return;
    // Only what the agent reads: managedFields, annotations and the like would just cost memory.
    this.#byName.set(metadata.name, {
      ...(route.apiVersion === undefined ? {} : { apiVersion: route.apiVersion }),
      ...(route.kind === undefined ? {} : { kind: route.kind }),
      metadata: {
        name: metadata.name,
        ...(metadata.resourceVersion === undefined ? {} : { resourceVersion: metadata.resourceVersion }),
        ...(metadata.generation === undefined ? {} : { generation: metadata.generation }),
        ...(metadata.creationTimestamp === undefined
          ? {}
          : { creationTimestamp: metadata.creationTimestamp }),
        ...(metadata.uid === undefined ? {} : { uid: metadata.uid }),
      },
      ...(route.spec === undefined ? {} : { spec: route.spec }),
      ...(route.status === undefined ? {} : { status: route.status }),
    });
  }

  delete(name: string): void {
    this.#byName.delete(name);
  }

  get(name: string): KubeRoute | undefined {
    return this.#byName.get(name);
  }

  condition(name: string, type: string): KubeCondition | undefined {
    const conditions = this.#byName.get(name)?.status?.conditions;
    return Array.isArray(conditions) ? conditions.find((c) => c?.type === type) : undefined;
  }

  get size(): number {
    return this.#byName.size;
  }
}
