/**
 * A pod's hostPath volumes, mounted for real as the container runtime mounts them: a
 * bind mount of each volume's path on the node (a directory laid out by the test) at
 * its mountPath, read-only where the pod spec says, in a mount namespace of its own
 * (`unshare -m`, so nothing reaches the machine's own mounts). The namespace lives as
 * long as a `cat` that holds it; the pod's files are read through /proc/PID/root,
 * which walks that namespace's mounts. Needs root.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findHostFile } from "../../src/host-path.ts";

export interface HostPathMount {
  readonly onNode: string;
  readonly type: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
}

export interface PodMounts {
  /** The pod's `/`, as this process reaches it. */
  readonly root: string;
  stop(): void;
}

/**
 * What the kubelet checks before the runtime mounts (hostPath `type`), and the file or
 * directory the runtime binds: mount(2) follows a link in the source path, and on the
 * node an absolute target is the node's own, so links are followed under `node` as the
 * agent follows them (host-path.ts).
 */
async function sourceOf(node: string, mount: HostPathMount): Promise<{ path: string; kind: "dir" | "file" }> {
  if (mount.type === "DirectoryOrCreate") mkdirSync(join(node, mount.onNode), { recursive: true });
  const found = await findHostFile(node, mount.onNode);
  if (!found.found) {
    throw new Error(
      `the pod cannot start: hostPath ${mount.onNode} (type ${mount.type}) is missing on the node`,
    );
  }
  const isDir = statSync(found.inPod).isDirectory();
  if ((mount.type === "Directory" && !isDir) || (mount.type === "File" && isDir)) {
    throw new Error(`the pod cannot start: hostPath ${mount.onNode} is not a ${mount.type}`);
  }
  return { path: found.inPod, kind: isDir ? "dir" : "file" };
}

const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

export async function mountPod(node: string, mounts: readonly HostPathMount[]): Promise<PodMounts> {
  // Checked before the pod's directory is made, so a pod that cannot start leaves nothing behind.
  const bound = await Promise.all(
    mounts.map(async (mount) => ({ mount, source: await sourceOf(node, mount) })),
  );
  const pod = mkdtempSync(join(tmpdir(), "kroute-pod-"));
  const script = bound.map(({ mount, source }) => {
    const target = quote(join(pod, mount.mountPath));
    const mountpoint =
      source.kind === "dir" ? `mkdir -p ${target}` : `mkdir -p "$(dirname ${target})" && touch ${target}`;
    const options = mount.readOnly ? "-o ro " : "";
    return `${mountpoint} && mount --bind ${options}${quote(source.path)} ${target}`;
  });
  const child = spawn(
    "unshare",
    [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-ec",
      [...script, "echo ready", "exec cat >/dev/null"].join("\n"),
    ],
    // `cat` holds the namespace until its stdin closes: when stopped, or when this process ends.
    { stdio: ["pipe", "pipe", "pipe"] },
  );
  const stop = () => {
    child.kill();
    rmSync(pod, { recursive: true, force: true });
  };
  await ready(child).catch((error: unknown) => {
    stop();
    throw error;
  });
  return { root: `/proc/${child.pid}/root${pod}`, stop };
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
      stderr += String(chunk);
    });
    child.stdout?.on("data", (chunk) => {
      if (String(chunk).includes("ready")) resolve();
    });
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`mounting the pod's volumes failed (${code}): ${stderr}`)));
  });
}
