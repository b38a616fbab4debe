/**
 * The node's resolvers as the agent sees them through the DaemonSet's mounts: a node's
 * files laid out in a directory, each hostPath volume mounted where the pod spec says,
 * and the agent's own settings parser and resolv.conf reader on the rendered args. Under
 * a default-route override these are the addresses kept on the original gateway.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { renderChart } from "../../src/deploy/chart.ts";
import { hostResolvers } from "../../src/host-resolvers.ts";
import { parseAgentSettings } from "../../src/settings.ts";

const chartDir = join(resolve(import.meta.dirname, "../../../.."), "deploy/helm/kroute");

interface HostPathVolume {
  readonly name: string;
  readonly hostPath?: { readonly path: string; readonly type?: string };
}

interface Container {
  readonly args: string[];
  readonly volumeMounts: { readonly name: string; readonly mountPath: string }[];
}

function daemonSetPod(): { containers: Container[]; volumes: HostPathVolume[] } {
  const objects = renderChart(chartDir).templates.flatMap((t) =>
    parseAllDocuments(t.text).map((d) => d.toJS() as { kind?: string; spec?: unknown } | null),
  );
  const daemonSet = objects.find((o) => o?.kind === "DaemonSet") as {
    spec: { template: { spec: { containers: Container[]; volumes: HostPathVolume[] } } };
  };
  return daemonSet.spec.template.spec;
}

/** Hosts whose files the tests lay out; removed after each test. */
const hosts: string[] = [];
afterEach(() => {
  for (const host of hosts.splice(0)) rmSync(host, { recursive: true, force: true });
});

/** A node's filesystem: `files` by absolute path, `links` from absolute path to target. */
function nodeWith(files: Record<string, string>, links: Record<string, string> = {}): string {
  const host = mkdtempSync(join(tmpdir(), "kroute-node-"));
  hosts.push(host);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(host, path)), { recursive: true });
    writeFileSync(join(host, path), text);
  }
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(host, path)), { recursive: true });
    symlinkSync(target, join(host, path));
  }
  return host;
}

/**
 * The nameservers the agent reads on `host`. The pod must start there: a hostPath whose
 * type wants the path to exist fails the pod where it does not.
 */
async function resolversSeenOn(host: string): Promise<string[]> {
  const pod = daemonSetPod();
  const [container] = pod.containers;
  if (container === undefined) throw new Error("no container");
  const mounts = container.volumeMounts.flatMap((mount) => {
    const volume = pod.volumes.find((v) => v.name === mount.name);
    if (volume?.hostPath === undefined) return [];
    const { path, type = "" } = volume.hostPath;
    if (!existsSync(join(host, path)) && !["", "DirectoryOrCreate", "FileOrCreate"].includes(type)) {
      throw new Error(`the pod cannot start: hostPath ${path} (type ${type}) is missing on this node`);
    }
    return [{ inPod: mount.mountPath, onHost: join(host, path) }];
  });
  const settings = parseAgentSettings(container.args, { NODE_NAME: "node-a" });
  const onHost = settings.resolvConf.flatMap((file) => {
    const mount = mounts.find((m) => file === m.inPod || file.startsWith(`${m.inPod}/`));
    return mount === undefined ? [] : [mount.onHost + file.slice(mount.inPod.length)];
  });
  return (await hostResolvers(onHost, "/")).nameservers;
}

describe("the node's resolvers, through the DaemonSet's mounts", () => {
  it("reads a node's own resolv.conf", async () => {
    const host = nodeWith({ "/etc/resolv.conf": "nameserver 67.207.67.2\nnameserver 67.207.67.3\n" });
    expect(await resolversSeenOn(host)).toEqual(["67.207.67.2", "67.207.67.3"]);
  });

  it("reads systemd-resolved's upstream servers behind its 127.0.0.53 stub", async () => {
    // As Ubuntu lays it out: /etc/resolv.conf a link to the stub's file.
    const host = nodeWith(
      {
        "/run/systemd/resolve/stub-resolv.conf": "nameserver 127.0.0.53\noptions edns0 trust-ad\n",
        "/run/systemd/resolve/resolv.conf": "nameserver 10.0.0.2\nnameserver 1.1.1.1\n",
      },
      { "/etc/resolv.conf": "../run/systemd/resolve/stub-resolv.conf" },
    );
    expect(await resolversSeenOn(host)).toEqual(["10.0.0.2", "1.1.1.1"]);
  });
});
