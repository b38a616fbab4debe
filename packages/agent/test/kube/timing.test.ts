import { describe, expect, it } from "vitest";
import { KubeApiError } from "../../src/kube/rest.ts";
import { backoffDelay, retryDelay } from "../../src/kube/timing.ts";

describe("backoffDelay", () => {
  const options = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };

  it("doubles per attempt up to the ceiling", () => {
    const top = () => 0.999999;
    expect([0, 1, 2, 3, 4, 5].map((n) => Math.round(backoffDelay(n, options, top)))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
  });

  it("spreads each step over its jitter fraction", () => {
    expect(backoffDelay(2, options, () => 0)).toBe(200);
    expect(backoffDelay(2, options, () => 0.5)).toBe(300);
    expect(backoffDelay(2, { ...options, jitter: 0 }, () => 0)).toBe(400);
  });
});

describe("retryDelay", () => {
  const options = { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0.5 };
  const shed = (code: number, header?: string, details?: unknown) =>
    new KubeApiError("GET", "/api/v1/nodes", code, { message: "slow down", details }, header);

  it("is the backoff for an error without Retry-After", () => {
    expect(retryDelay(2, options, () => 0, new Error("reset"))).toBe(200);
    expect(retryDelay(2, options, () => 0, shed(429))).toBe(200);
  });

  it("is never sooner than Retry-After (header, else details.retryAfterSeconds), spread above it by the jitter", () => {
    expect(retryDelay(0, options, () => 0, shed(429, "3"))).toBe(3000);
    expect(retryDelay(0, options, () => 0.5, shed(429, "3"))).toBe(3750);
    expect(retryDelay(0, options, () => 0, shed(503, undefined, { retryAfterSeconds: 2 }))).toBe(2000);
    // A longer backoff stands.
    expect(retryDelay(9, options, () => 0.999999, shed(429, "0"))).toBeCloseTo(1000);
  });

  it("takes Retry-After only from a 429 or a 5xx, and only in whole seconds", () => {
    expect(shed(409, "3").retryAfterMs).toBeUndefined();
    expect(shed(429, "Wed, 21 Oct 2026 07:28:00 GMT").retryAfterMs).toBeUndefined();
    expect(shed(500, " 1 ").retryAfterMs).toBe(1000);
  });
});
