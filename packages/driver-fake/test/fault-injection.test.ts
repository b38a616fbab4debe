import type { IpAddr, KernelChange, KernelRoute, Prefix } from "@kroute/core";
import { describe, expect, it } from "vitest";
import { createFakeKernel } from "../src/index.ts";
import { BASELINE_HOST } from "./baseline-host.ts";

const route = (dst: string): KernelRoute => ({
  family: 4,
  table: 100,
  dst: dst as Prefix,
  metric: 100,
  protocol: 250,
  scope: 0,
  target: { kind: "gateways", nexthops: [{ gateway: "10.10.0.2" as IpAddr, dev: "kr0", weight: 1 }] },
});
const add = (to: KernelRoute) => ({ object: "route", action: "add", to }) as const;

describe("fault injection", () => {
  it("fails exactly the next N ops with the chosen errno, changing nothing, then recovers", async () => {
    const kernel = createFakeKernel(BASELINE_HOST);
    kernel.failNext(2, "ENOBUFS");
    const results = await kernel.apply([
      add(route("192.0.2.0/24")),
      add(route("192.0.3.0/24")),
      add(route("192.0.4.0/24")),
    ]);
    expect(results).toEqual([
      { ok: false, errno: 105, code: "ENOBUFS", message: "No buffer space available" },
      { ok: false, errno: 105, code: "ENOBUFS", message: "No buffer space available" },
      { ok: true },
    ]);
    expect((await kernel.list({ protocols: [250] })).routes.map((r) => r.dst)).toEqual(["192.0.4.0/24"]);
    kernel.failNext(1, 16);
    expect(kernel.applySync([add(route("192.0.2.0/24"))])[0]).toMatchObject({ errno: 16, code: "EBUSY" });
    expect(() => kernel.failNext(1, "EWHATEVER")).toThrow(/unknown errno/);
  });

  it("an interrupted dump is partial and says so, once", async () => {
    const kernel = createFakeKernel(BASELINE_HOST);
    kernel.applySync(
      ["192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/24", "192.0.5.0/24"].map((dst) => add(route(dst))),
    );
    kernel.interruptNextDump();
    const partial = await kernel.list({ protocols: [250] });
    expect(partial.complete).toBe(false);
    expect(partial.routes.length).toBeLessThan(4);
    const full = await kernel.list({ protocols: [250] });
    expect(full.complete).toBe(true);
    expect(full.routes).toHaveLength(4);
  });

  it("dropped notifications are lost, and an overflow signal follows their burst", () => {
    const kernel = createFakeKernel(BASELINE_HOST);
    const seen: KernelChange[] = [];
    kernel.watch().subscribe((change) => seen.push(change));
    const summary = () => seen.map((change) => (change.kind === "route" ? change.route.dst : change.kind));
    kernel.dropNotifications(2);
    kernel.applySync(["192.0.2.0/24", "192.0.3.0/24", "192.0.4.0/24"].map((dst) => add(route(dst))));
    expect(summary()).toEqual(["192.0.4.0/24", "overflow"]);
    // Only one burst loses anything: the next request is announced normally.
    kernel.applySync([add(route("192.0.5.0/24"))]);
    expect(summary()).toEqual(["192.0.4.0/24", "overflow", "192.0.5.0/24"]);
  });

  it("a carrier loss whose link notification is dropped still signals overflow", () => {
    const kernel = createFakeKernel(BASELINE_HOST);
    const seen: KernelChange[] = [];
    kernel.watch().subscribe((change) => seen.push(change));
    kernel.dropNotifications(1);
    kernel.setCarrier("kr0", false);
    expect(seen).toEqual([{ kind: "overflow" }]);
  });

  it("a closed kernel rejects calls and completes its notifications", async () => {
    const kernel = createFakeKernel(BASELINE_HOST);
    let completed = false;
    kernel.watch().subscribe({ complete: () => (completed = true) });
    await kernel.close();
    expect(completed).toBe(true);
    await expect(kernel.list({})).rejects.toThrow(/closed/);
  });
});
