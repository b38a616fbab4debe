/**
 * The libc surface beyond netlink, as the ICMP prober uses it: an ICMP socket made
 * inside a namespace, sendto/recvfrom with a sockaddr_in, readiness from libuv.
 */
import { createNetns, type Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterAll, beforeAll, expect, it } from "vitest";
import * as ffi from "../src/ffi.ts";

function sockaddrIn(address: readonly number[]): Uint8Array {
  const sa = new Uint8Array(16);
  new DataView(sa.buffer).setUint16(0, ffi.AF_INET, true);
  sa.set(address, 4);
  return sa;
}

function echoRequest(id: number, seq: number): Uint8Array {
  const packet = new Uint8Array(16);
  const view = new DataView(packet.buffer);
  view.setUint8(0, 8); // echo request
  view.setUint16(4, id);
  view.setUint16(6, seq);
  let sum = 0;
  for (let i = 0; i < packet.length; i += 2) sum += view.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  view.setUint16(2, ~sum & 0xffff);
  return packet;
}

describeAsRoot("ffi", () => {
  let ns: Netns;
  beforeAll(async () => {
    ns = await createNetns();
  });
  afterAll(async () => {
    await ns?.destroy();
  });

  it("sends an ICMP echo from a raw socket bound to a namespace and reads the reply when readable", async () => {
    const fd = ffi.inNetns(ns.name, () =>
      ffi.check("socket", ffi.socket(ffi.AF_INET, ffi.SOCK_RAW | ffi.SOCK_NONBLOCK, ffi.IPPROTO_ICMP)),
    );
    try {
      expect(ffi.recv(fd, new Uint8Array(64))).toBe(-ffi.EAGAIN);
      const reply = new Promise<{ type: number; seq: number; from: number[] }>((resolve) => {
        const watch = ffi.watchReadable(fd, () => {
          const buffer = new Uint8Array(256);
          const from = new Uint8Array(16);
          for (;;) {
            const { bytes } = ffi.recvfrom(fd, buffer, from);
            if (bytes < 0) return;
            const ihl = ((buffer[0] ?? 0) & 0x0f) * 4; // raw IPv4 sockets deliver the IP header too
            if (buffer[ihl] === 0) {
              watch.stop();
              resolve({
                type: 0,
                seq: new DataView(buffer.buffer).getUint16(ihl + 6),
                from: [...from.subarray(4, 8)],
              });
              return;
            }
          }
        });
      });
      expect(ffi.sendto(fd, echoRequest(0x4b52, 7), sockaddrIn([127, 0, 0, 1]))).toBe(16);
      expect(await reply).toEqual({ type: 0, seq: 7, from: [127, 0, 0, 1] });
    } finally {
      ffi.close(fd);
    }
  });

  it("returns -errno rather than throwing, with names and messages for them", () => {
    expect(ffi.close(-1)).toBe(-ffi.EBADF);
    expect(ffi.errnoName(11)).toBe("EAGAIN");
    expect(ffi.errnoName(4095)).toBe("E4095");
    expect(ffi.strerror(2)).toBe("No such file or directory");
    expect(() => ffi.check("close", ffi.close(-1))).toThrow(/close: EBADF \(Bad file descriptor\)/);
  });
});
