/**
 * A file of the host, found where the host's directories are mounted in the pod. The
 * host's symbolic links are followed as the host would follow them: an absolute target
 * (/etc/resolv.conf -> /run/systemd/resolve/stub-resolv.conf) is looked up under the
 * mount root, never in the pod's own /run, and `..` stops at the root as at `/`. The
 * kernel does this with openat2's RESOLVE_IN_ROOT, which Node does not offer, so the
 * path is walked here a component at a time.
 */
import { lstat, readlink } from "node:fs/promises";
import { join } from "node:path";

/** Linux's own limit (MAXSYMLINKS): a longer chain is a loop. */
const MAX_LINKS = 40;

export type HostFileLookup =
  /** `inPod`: where the host's file is read; `links`: each link followed, `path -> target`. */
  | { readonly found: true; readonly inPod: string; readonly links: readonly string[] }
  /** `missing`: the host path that is not there (under the root), after `links`. */
  | { readonly found: false; readonly missing: string; readonly links: readonly string[] };

function componentsOf(path: string): string[] {
  return path.split("/").filter((part) => part !== "" && part !== ".");
}

function isAbsent(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/**
 * Where the host's absolute `hostPath` is under `root` (the directory the host's `/`
 * is mounted at; `/` on the host itself). Throws on a link loop or an unreadable
 * directory, naming the path.
 */
export async function findHostFile(root: string, hostPath: string): Promise<HostFileLookup> {
  const resolved: string[] = [];
  const pending = componentsOf(hostPath);
  const links: string[] = [];
  for (let part = pending.shift(); part !== undefined; part = pending.shift()) {
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const onHost = `/${[...resolved, part].join("/")}`;
    const inPod = join(root, onHost);
    let isLink: boolean;
    try {
      isLink = (await lstat(inPod)).isSymbolicLink();
    } catch (error) {
      if (isAbsent(error)) return { found: false, missing: onHost, links };
      throw error;
    }
    if (!isLink) {
      resolved.push(part);
      continue;
    }
    if (links.length === MAX_LINKS) {
      throw new Error(`${hostPath}: more than ${MAX_LINKS} symbolic links (${links.slice(-2).join(", ")})`);
    }
    const target = await readlink(inPod);
    links.push(`${onHost} -> ${target}`);
    if (target.startsWith("/")) resolved.length = 0;
    pending.unshift(...componentsOf(target));
  }
  return { found: true, inPod: join(root, `/${resolved.join("/")}`), links };
}
