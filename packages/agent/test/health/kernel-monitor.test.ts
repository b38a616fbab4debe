import { createNetns, type Netns } from "@kroute/lab";
import { describeAsRoot } from "@kroute/testkit";
import { afterEach, expect, it } from "vitest";
import { type KernelMonitor, monitorKernel } from "./kernel-monitor.ts";

/** Few enough that the kernel holds their announcements for `ip` while it is held back. */
const COUNT = 200;
const routes = Array.from({ length: COUNT }, (_, i) => `198.18.${i >> 8}.${i & 255}/32`);

describeAsRoot("ip monitor of a namespace's routes", () => {
  let ns: Netns | undefined;
  let monitor: KernelMonitor | undefined;

  afterEach(async () => {
    await monitor?.stop();
    await ns?.destroy();
    monitor = ns = undefined;
  });

  it("holds every change made before a flush or a stop, however late `ip` reads and prints it", async () => {
    ns = await createNetns();
    const m = await monitorKernel(ns);
    monitor = m;
    const added = () => m.changes().filter((change) => /^198\.18\.\d+\.\d+ dev lo /.test(change.text)).length;
    // As on a loaded machine: `ip` gets no CPU while the changes are made, and has
    // printed none of them when they are done.
    const addWhileHeldBack = async (batch: readonly string[]) => {
      process.kill(m.pid as number, "SIGSTOP");
      try {
        await (ns as Netns).ipBatch(batch.map((route) => `route add ${route} dev lo`));
      } finally {
        process.kill(m.pid as number, "SIGCONT");
      }
    };

    await addWhileHeldBack(routes.slice(0, COUNT / 2));
    await m.flush();
    expect(added()).toBe(COUNT / 2);
    await addWhileHeldBack(routes.slice(COUNT / 2));
    await m.stop();
    expect(added()).toBe(COUNT);
    expect(m.changes().filter((change) => change.text.includes("table 4242"))).toEqual([]);
  });
});
