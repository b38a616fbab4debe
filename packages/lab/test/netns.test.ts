import { existsSync, rmSync } from "node:fs";
import { describeAsRoot } from "@kroute/testkit";
import { expect, it } from "vitest";
import { createNetns } from "../src/netns.ts";

describeAsRoot("createNetns", () => {
  it("creates an isolated namespace, runs ip and commands in it, and destroys it", async () => {
    const ns = await createNetns();
    try {
      expect(ns.name).toMatch(/^kr-[0-9a-f]{8}$/);
      expect(existsSync(`/var/run/netns/${ns.name}`)).toBe(true);
      await ns.ip("link", "add", "d0", "type", "bridge");
      const links = await ns.ipJson<{ ifname: string }[]>("link", "show");
      expect(links.map((l) => l.ifname).sort()).toEqual(["d0", "lo"]);
      const batch = await ns.ipBatch(["link set d0 up", "address add 10.9.0.1/24 dev d0"]);
      expect(batch.stderr).toBe("");
      const { stdout } = await ns.exec("cat", ["/proc/sys/net/ipv4/fib_multipath_hash_policy"]);
      expect(stdout.trim()).toMatch(/^[0-2]$/);
      await expect(ns.ip("link", "add", "d0", "type", "bridge")).rejects.toThrow(/File exists/);
    } finally {
      await ns.destroy();
    }
    expect(existsSync(`/var/run/netns/${ns.name}`)).toBe(false);
    await ns.destroy();
  });

  it("kills an aborted command and settles only once it has exited", async () => {
    const ns = await createNetns();
    try {
      const marker = `/tmp/kr-abort-${ns.name}`;
      // Takes 300 ms to die after SIGTERM, then leaves a file saying it is gone.
      const script = `trap 'kill $!; sleep 0.3; touch ${marker}; exit 1' TERM; sleep 10 & wait`;
      const abort = new AbortController();
      const running = ns.exec("sh", ["-c", script], { signal: abort.signal });
      await new Promise((resolve) => setTimeout(resolve, 200));
      abort.abort();
      await expect(running).rejects.toThrow();
      expect(existsSync(marker)).toBe(true);
      rmSync(marker, { force: true });
    } finally {
      await ns.destroy();
    }
  });
});
