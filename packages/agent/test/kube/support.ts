/** Shared pieces of the agent's Kubernetes tests: the API double, a client for it, and event collection. */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createKubeApiDouble, type KubeApiDouble } from "@kroute/lab";
import { KubeConfig } from "@kubernetes/client-node";
import type { Observable } from "rxjs";
import type { RestartReason, SupervisorOptions } from "../../src/kube/list-watch.ts";

export const GROUP = "networking.kroute.dev";
export const VERSION = "v1alpha1";

/** A self-signed certificate for 127.0.0.1 made for these tests (tls/README.md): not a secret. */
export const TEST_TLS = {
  key: readFileSync(join(import.meta.dirname, "tls/api-server.key"), "utf8"),
  cert: readFileSync(join(import.meta.dirname, "tls/api-server.crt"), "utf8"),
};

export async function startApi(options: Parameters<typeof createKubeApiDouble>[0] = {}): Promise<{
  api: KubeApiDouble;
  kc: KubeConfig;
}> {
  const api = await createKubeApiDouble({ bookmarkIntervalMs: 100, ...options });
  const kc = new KubeConfig();
  kc.loadFromString(api.kubeconfig());
  return { api, kc };
}

export function collect<T>(source: Observable<T>): { items: T[]; errors: unknown[]; stop: () => void } {
  const items: T[] = [];
  const errors: unknown[] = [];
  const subscription = source.subscribe({
    next: (v) => items.push(v),
    error: (e: unknown) => errors.push(e),
  });
  return { items, errors, stop: () => subscription.unsubscribe() };
}

/**
 * Waits until `check` holds. The bound only stops a hang (it returns as soon as the check
 * holds): on a loaded 2-core runner what takes a moment alone can take many seconds. A
 * time that is a requirement is measured in the test, not by this bound.
 */
export async function until(check: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Fast supervisor settings for tests, with restarts recorded. */
export function fastSupervisor(overrides: SupervisorOptions = {}): {
  options: SupervisorOptions;
  restarts: { watch: string; reason: RestartReason }[];
} {
  const restarts: { watch: string; reason: RestartReason }[] = [];
  return {
    restarts,
    options: {
      backoff: { initialMs: 20, maxMs: 200, jitter: 0 },
      stallTimeoutMs: 2000,
      relistSpreadMs: 0,
      rewatchSpreadMs: 0,
      hooks: { restarted: (watch, reason) => restarts.push({ watch, reason }) },
      ...overrides,
    },
  };
}

export function route(
  name: string,
  spec: Record<string, unknown> = { destinations: ["10.0.0.0/8"], gateways: ["192.168.1.1"] },
) {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: "Route", metadata: { name }, spec };
}
