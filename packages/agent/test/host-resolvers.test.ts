import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hostResolvers } from "../src/host-resolvers.ts";

/** Host roots the tests lay out; removed after each test. */
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function emptyRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "kroute-host-root-"));
  roots.push(root);
  mkdirSync(join(root, "etc"));
  return root;
}

describe("hostResolvers", () => {
  it("reads nameservers in order, once each, without loopback stubs or absent files", async () => {
    const root = emptyRoot();
    writeFileSync(
      join(root, "etc/a"),
      "# comment\nsearch example.com\nnameserver 127.0.0.53\nnameserver 67.207.67.2\n  nameserver 2001:4860::8888\noptions edns0\n",
    );
    writeFileSync(
      join(root, "etc/b"),
      "nameserver 67.207.67.2\nnameserver fe80::1%eth0\nnameserver 67.207.67.3\nnameserver bogus\n",
    );
    expect(await hostResolvers(["/etc/a", "/etc/missing", "/etc/b"], root)).toEqual({
      nameservers: ["67.207.67.2", "2001:4860::8888", "67.207.67.3"],
      problems: [],
    });
  });

  it("reads the file a host's link names under the root", async () => {
    const root = emptyRoot();
    mkdirSync(join(root, "run/systemd/resolve"), { recursive: true });
    writeFileSync(join(root, "run/systemd/resolve/resolv.conf"), "nameserver 10.0.0.2\n");
    symlinkSync("/run/systemd/resolve/resolv.conf", join(root, "etc/resolv.conf"));
    expect(await hostResolvers(["/etc/resolv.conf"], root)).toEqual({
      nameservers: ["10.0.0.2"],
      problems: [],
    });
  });

  it("names a link to a file the pod cannot see, and a file it cannot read, and reads the rest", async () => {
    const root = emptyRoot();
    symlinkSync("/run/netdog/resolv.conf", join(root, "etc/resolv.conf"));
    mkdirSync(join(root, "etc/resolv.d"));
    writeFileSync(join(root, "etc/other.conf"), "nameserver 10.0.0.3\n");
    expect(await hostResolvers(["/etc/resolv.conf", "/etc/resolv.d", "/etc/other.conf"], root)).toEqual({
      nameservers: ["10.0.0.3"],
      problems: [
        `/etc/resolv.conf links to /run, which is not under ${root} ` +
          "(/etc/resolv.conf -> /run/netdog/resolv.conf): a dangling link, or a directory of the host the pod does not mount",
        expect.stringMatching(/^\/etc\/resolv\.d: EISDIR/),
      ],
    });
  });
});
