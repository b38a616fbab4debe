import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findHostFile } from "../src/host-path.ts";

/** Host roots the tests lay out; removed after each test. */
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A host's directories under a fresh root: `files` by host path, `links` from host path to target. */
function hostRoot(files: Record<string, string>, links: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), "kroute-host-root-"));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    symlinkSync(target, join(root, path));
  }
  return root;
}

async function textOf(root: string, hostPath: string): Promise<string> {
  const lookup = await findHostFile(root, hostPath);
  if (!lookup.found) throw new Error(`${hostPath}: ${lookup.missing} missing`);
  return readFileSync(lookup.inPod, "utf8");
}

describe("findHostFile", () => {
  it("finds a plain file under the root", async () => {
    const root = hostRoot({ "/etc/resolv.conf": "plain" });
    expect(await findHostFile(root, "/etc/resolv.conf")).toEqual({
      found: true,
      inPod: join(root, "etc/resolv.conf"),
      links: [],
    });
  });

  it("follows an absolute link under the root, not in the pod's own filesystem", async () => {
    // The pod's own /run has no such file; the host's, under the root, has.
    const root = hostRoot(
      { "/run/systemd/resolve/stub-resolv.conf": "stub" },
      { "/etc/resolv.conf": "/run/systemd/resolve/stub-resolv.conf" },
    );
    expect(await findHostFile(root, "/etc/resolv.conf")).toEqual({
      found: true,
      inPod: join(root, "run/systemd/resolve/stub-resolv.conf"),
      links: ["/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf"],
    });
  });

  it("follows a relative link, and `..` stops at the root as at the host's /", async () => {
    const root = hostRoot(
      { "/run/resolvconf/resolv.conf": "resolvconf" },
      {
        "/etc/resolv.conf": "../run/resolvconf/resolv.conf",
        // On the host, /etc/../../../run is /run: it must not climb out of the root.
        "/etc/deep.conf": "../../../run/resolvconf/resolv.conf",
      },
    );
    expect(await textOf(root, "/etc/resolv.conf")).toBe("resolvconf");
    expect(await textOf(root, "/etc/deep.conf")).toBe("resolvconf");
  });

  it("follows links in directories on the way and chains of links", async () => {
    // /var/run -> ../run, as most distributions have it; then a link to a link.
    const root = hostRoot(
      { "/run/NetworkManager/resolv.conf": "nm" },
      {
        "/var/run": "../run",
        "/etc/resolv.conf": "/var/run/NetworkManager/nm.conf",
        "/run/NetworkManager/nm.conf": "resolv.conf",
      },
    );
    const lookup = await findHostFile(root, "/etc/resolv.conf");
    expect(lookup).toEqual({
      found: true,
      inPod: join(root, "run/NetworkManager/resolv.conf"),
      links: [
        "/etc/resolv.conf -> /var/run/NetworkManager/nm.conf",
        "/var/run -> ../run",
        "/run/NetworkManager/nm.conf -> resolv.conf",
      ],
    });
  });

  it("names the missing host path, after the links that led there", async () => {
    const root = hostRoot({ "/etc/hosts": "" }, { "/etc/resolv.conf": "/run/netdog/resolv.conf" });
    expect(await findHostFile(root, "/etc/resolv.conf")).toEqual({
      found: false,
      missing: "/run",
      links: ["/etc/resolv.conf -> /run/netdog/resolv.conf"],
    });
    expect(await findHostFile(root, "/etc/absent.conf")).toEqual({
      found: false,
      missing: "/etc/absent.conf",
      links: [],
    });
  });

  it("refuses a loop of links, naming the path", async () => {
    const root = hostRoot({}, { "/etc/a": "b", "/etc/b": "/etc/a" });
    await expect(findHostFile(root, "/etc/a")).rejects.toThrow(/^\/etc\/a: more than 40 symbolic links/);
  });
});
