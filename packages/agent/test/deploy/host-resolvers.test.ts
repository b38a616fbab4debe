/**
 * The node's resolvers as the agent sees them through the DaemonSet's mounts: a node's
 * files laid out in a directory, each hostPath volume bind-mounted where the pod spec
 * says (pod-mounts.ts), and the agent's own settings parser and resolv.conf reader on
 * the rendered args. Under a default-route override these are the addresses kept on the
 * original gateway, so they must follow the node's files as its network tools replace
 * them: by writing a new file and renaming it over the old one.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { describeAsRoot } from "@kroute/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { renderChart } from "../../src/deploy/chart.ts";
import { hostResolvers } from "../../src/host-resolvers.ts";
import { parseAgentSettings } from "../../src/settings.ts";
import { type HostPathMount, mountPod, type PodMounts } from "./pod-mounts.ts";

const chartDir = join(resolve(import.meta.dirname, "../../../.."), "deploy/helm/kroute");

interface Volume {
  readonly name: string;
  readonly hostPath?: { readonly path: string; readonly type?: string };
}

interface Container {
  readonly args: string[];
  readonly volumeMounts: { readonly name: string; readonly mountPath: string; readonly readOnly?: boolean }[];
}

function daemonSetPod(): { container: Container; hostPaths: HostPathMount[] } {
  const objects = renderChart(chartDir).templates.flatMap((t) =>
    parseAllDocuments(t.text).map((d) => d.toJS() as { kind?: string; spec?: unknown } | null),
  );
  const daemonSet = objects.find((o) => o?.kind === "DaemonSet") as {
    spec: { template: { spec: { containers: Container[]; volumes: Volume[] } } };
  };
  const { containers, volumes } = daemonSet.spec.template.spec;
  const [container] = containers;
  if (container === undefined) throw new Error("no container");
  const hostPaths = container.volumeMounts.flatMap((mount) => {
    const hostPath = volumes.find((v) => v.name === mount.name)?.hostPath;
    if (hostPath === undefined) return [];
    return [
      {
        onNode: hostPath.path,
        type: hostPath.type ?? "",
        mountPath: mount.mountPath,
        readOnly: mount.readOnly === true,
      },
    ];
  });
  return { container, hostPaths };
}

describe("the DaemonSet's host mounts", () => {
  it("are directories, read-only: a file mount keeps showing a file renamed over", () => {
    const { hostPaths } = daemonSetPod();
    expect(hostPaths.length).toBeGreaterThan(0);
    for (const mount of hostPaths) {
      expect(mount, mount.onNode).toMatchObject({
        type: expect.stringMatching(/^Directory(OrCreate)?$/),
        readOnly: true,
      });
    }
  });
});

describeAsRoot("the node's resolvers, through the DaemonSet's mounts", () => {
  const nodes: string[] = [];
  const pods: PodMounts[] = [];
  afterEach(() => {
    for (const pod of pods.splice(0)) pod.stop();
    for (const node of nodes.splice(0)) rmSync(node, { recursive: true, force: true });
  });

  /** A node's filesystem: `files` by absolute path, `links` from absolute path to target. */
  function nodeWith(files: Record<string, string>, links: Record<string, string> = {}): string {
    const node = mkdtempSync(join(tmpdir(), "kroute-node-"));
    nodes.push(node);
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(node, path)), { recursive: true });
      writeFileSync(join(node, path), text);
    }
    for (const [path, target] of Object.entries(links)) {
      mkdirSync(dirname(join(node, path)), { recursive: true });
      symlinkSync(target, join(node, path));
    }
    return node;
  }

  /** As dhclient, NetworkManager, resolvconf and systemd-resolved write: a new file renamed over. */
  function replace(node: string, path: string, text: string): void {
    writeFileSync(join(node, `${path}.new`), text);
    renameSync(join(node, `${path}.new`), join(node, path));
  }

  /** The pod started on `node`: a function giving what the agent reads there, at each call. */
  async function podOn(node: string): Promise<() => Promise<{ nameservers: string[]; problems: string[] }>> {
    const { container, hostPaths } = daemonSetPod();
    const pod = await mountPod(node, hostPaths);
    pods.push(pod);
    const settings = parseAgentSettings(container.args, { NODE_NAME: "node-a" });
    return () => hostResolvers(settings.resolvConf, join(pod.root, settings.hostRoot));
  }

  it("reads a node's own resolv.conf, and the new one when it is replaced", async () => {
    const node = nodeWith({ "/etc/resolv.conf": "nameserver 67.207.67.2\nnameserver 67.207.67.3\n" });
    const seen = await podOn(node);
    expect(await seen()).toEqual({ nameservers: ["67.207.67.2", "67.207.67.3"], problems: [] });
    replace(node, "/etc/resolv.conf", "nameserver 10.20.0.2\n");
    expect(await seen()).toEqual({ nameservers: ["10.20.0.2"], problems: [] });
  });

  it("reads systemd-resolved's upstream servers behind its 127.0.0.53 stub, as they change", async () => {
    // As Ubuntu lays it out: /etc/resolv.conf a relative link to the stub's file.
    const node = nodeWith(
      {
        "/run/systemd/resolve/stub-resolv.conf": "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
        "/run/systemd/resolve/resolv.conf": "nameserver 10.0.0.2\nnameserver 1.1.1.1\n",
      },
      { "/etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf" },
    );
    const seen = await podOn(node);
    expect(await seen()).toEqual({ nameservers: ["10.0.0.2", "1.1.1.1"], problems: [] });
    replace(node, "/run/systemd/resolve/resolv.conf", "nameserver 10.0.0.3\n");
    expect(await seen()).toEqual({ nameservers: ["10.0.0.3"], problems: [] });
  });

  it.each([
    ["Flatcar (systemd-resolved without its stub)", "/run/systemd/resolve/resolv.conf"],
    ["Debian's resolvconf", "/run/resolvconf/resolv.conf"],
    ["NetworkManager", "/run/NetworkManager/resolv.conf"],
  ])("follows an absolute link into the node's /run, not the pod's: %s", async (_, target) => {
    const node = nodeWith({ [target]: "nameserver 10.30.0.2\n" }, { "/etc/resolv.conf": target });
    const seen = await podOn(node);
    expect(await seen()).toEqual({ nameservers: ["10.30.0.2"], problems: [] });
    replace(node, target, "nameserver 10.30.0.3\n");
    expect(await seen()).toEqual({ nameservers: ["10.30.0.3"], problems: [] });
  });

  it("follows /etc/resolv.conf when it is replaced by a link", async () => {
    const node = nodeWith({
      "/etc/resolv.conf": "nameserver 10.40.0.2\n",
      "/run/resolvconf/resolv.conf": "nameserver 10.40.0.3\n",
    });
    const seen = await podOn(node);
    expect(await seen()).toEqual({ nameservers: ["10.40.0.2"], problems: [] });
    symlinkSync("/run/resolvconf/resolv.conf", join(node, "/etc/resolv.conf.new"));
    renameSync(join(node, "/etc/resolv.conf.new"), join(node, "/etc/resolv.conf"));
    expect(await seen()).toEqual({ nameservers: ["10.40.0.3"], problems: [] });
  });

  it("starts on a node with none of the /run directories, and names a link into one it does not mount", async () => {
    const node = nodeWith({}, { "/etc/resolv.conf": "/run/netdog/resolv.conf" });
    const seen = await podOn(node);
    const { nameservers, problems } = await seen();
    expect(nameservers).toEqual([]);
    expect(problems).toEqual([
      expect.stringMatching(/^\/etc\/resolv\.conf links to \/run\/netdog, which is not under /),
    ]);
  });
});
