/**
 * The node's DNS resolvers, from its resolv.conf files: under a default-route override
 * they are kept on the original gateway. The files are the host's, read where its
 * directories are mounted (the host root), with its symbolic links followed as the
 * host follows them (host-path.ts).
 */
import { readFile } from "node:fs/promises";
import { type IpAddr, parseIp } from "@kroute/core";
import { isHostLocal } from "./host-facts.ts";
import { findHostFile } from "./host-path.ts";

export interface HostResolvers {
  /** In the order of the files and of their lines, once each, without loopback stubs. */
  readonly nameservers: IpAddr[];
  /**
   * Files that could not be read, each naming the file and why: their nameservers are
   * not protected. A file that is simply absent is not one (not every host has every
   * file); a link to an absent file is, as the link says the host uses it.
   */
  readonly problems: string[];
}

function nameserversOf(text: string): IpAddr[] {
  const found: IpAddr[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*nameserver\s+(\S+)/.exec(line);
    if (match === null) continue;
    // A zone index (fe80::1%eth0) is not part of the address.
    const parsed = parseIp((match[1] ?? "").replace(/%.*$/, ""));
    if (parsed.ok && !isHostLocal(parsed.value)) found.push(parsed.value);
  }
  return found;
}

/** What the host's resolv.conf `file` says, or why it could not be read. */
async function readHostFile(hostRoot: string, file: string): Promise<{ text?: string; problem?: string }> {
  try {
    const lookup = await findHostFile(hostRoot, file);
    if (!lookup.found) {
      if (lookup.links.length === 0) return {};
      return {
        problem:
          `${file} links to ${lookup.missing}, which is not under ${hostRoot} ` +
          `(${lookup.links.join(", ")}): a dangling link, or a directory of the host the pod does not mount`,
      };
    }
    return { text: await readFile(lookup.inPod, "utf8") };
  } catch (error) {
    return { problem: `${file}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** The nameservers of the host's resolv.conf `files` (host paths), read under `hostRoot`. */
export async function hostResolvers(files: readonly string[], hostRoot: string): Promise<HostResolvers> {
  const nameservers: IpAddr[] = [];
  const problems: string[] = [];
  for (const file of files) {
    const { text, problem } = await readHostFile(hostRoot, file);
    if (problem !== undefined) problems.push(problem);
    for (const ip of nameserversOf(text ?? "")) if (!nameservers.includes(ip)) nameservers.push(ip);
  }
  return { nameservers, problems };
}
