import { existsSync } from "node:fs";
import { expect, it } from "vitest";
import { createNetns } from "../src/netns.ts";
import { describeAsRoot } from "../src/root.ts";

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
});
