/**
 * What goes on the wire for a batch of route ops: many requests per send, no ACK
 * asked of each request, one ACK on the last request of each send as the barrier.
 * Results alone cannot show this (an ACK per request, or a send per request, gives
 * the same results, only slower), so the sends are read as the kernel gets them.
 */
import type { IpAddr, KernelRoute, Op, Prefix } from "@kroute/core";
import type { Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { NLM_F_ACK, RTM_NEWROUTE } from "../src/codec/constants.ts";
import { decodeMessages, type Message } from "../src/codec/message.ts";
import { createNetlinkDataplane, type NetlinkDataplane } from "../src/index.ts";
import { baselineNetns } from "./netns-host.ts";

const sends = vi.hoisted(() => [] as Uint8Array[]);

vi.mock("../src/ffi.ts", async (importOriginal) => {
  const ffi = await importOriginal<typeof import("../src/ffi.ts")>();
  return {
    ...ffi,
    sendAsync: (fd: number, data: Uint8Array, flags?: number) => {
      sends.push(data.slice());
      return ffi.sendAsync(fd, data, flags);
    },
  };
});

const PROTO = 240;
const ROUTES = 3000;

function hostRoute(i: number): KernelRoute {
  const v = (100 << 24) + (64 << 16) + i;
  return {
    family: 4,
    table: 254,
    dst: `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/32` as Prefix,
    metric: 0,
    protocol: PROTO,
    scope: 0,
    target: { kind: "gateways", nexthops: [{ gateway: "10.10.0.2" as IpAddr, dev: "kr0", weight: 1 }] },
  };
}

/** The route requests of each send that carried any, decoded. */
function routeSends(): Message[][] {
  return sends
    .map((bytes) => {
      const decoded = decodeMessages(bytes);
      if (!decoded.ok) throw new Error(`a send did not decode: ${decoded.error.message}`);
      return decoded.value.filter((m) => m.type === RTM_NEWROUTE);
    })
    .filter((messages) => messages.length > 0);
}

describeAsRoot("netlink driver: batched sends", () => {
  let ns: Netns;
  let dp: NetlinkDataplane;

  beforeAll(async () => {
    ({ ns } = await baselineNetns());
    dp = await createNetlinkDataplane({ netns: ns.name });
  });
  afterAll(async () => {
    await dp?.close();
    await ns?.destroy();
  });

  it("sends many requests at once, asking an ACK of the last of each send only", async () => {
    const ops: Op[] = Array.from({ length: ROUTES }, (_, i) => ({
      object: "route",
      action: "add",
      to: hostRoute(i),
    }));
    // One refusal in the middle: it is answered on its own, without an ACK asked of it.
    ops[1500] = { object: "route", action: "add", to: hostRoute(0) };
    sends.length = 0;
    const results = await dp.apply(ops);

    expect(results).toHaveLength(ROUTES);
    expect(results.filter((r) => !r.ok)).toEqual([expect.objectContaining({ code: "EEXIST" })]);
    expect(results[1500]).toMatchObject({ ok: false, code: "EEXIST" });

    const batches = routeSends();
    expect(batches.flat()).toHaveLength(ROUTES);
    // A few sends for thousands of requests (hundreds in each, up to 64 KiB), not one each.
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.length).toBeLessThanOrEqual(ROUTES / 500);
    for (const batch of batches) {
      const acked = batch.map((m) => (m.flags & NLM_F_ACK) !== 0);
      expect(acked.slice(0, -1).every((ack) => !ack)).toBe(true);
      expect(acked.at(-1)).toBe(true);
    }
  });
});
