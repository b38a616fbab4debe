/**
 * Where the agent reads the host's files: `--resolv-conf` names them as the host does
 * (/etc/resolv.conf), and `--host-root` is where the host's directories are mounted in
 * the pod, so that a link on the host (/etc/resolv.conf -> /run/...) is followed under
 * it rather than in the pod's own filesystem.
 */
import { isAbsolute, normalize } from "node:path";
import type { RawFlags } from "./flags.ts";
import { fail } from "./settings-error.ts";
import { str } from "./values.ts";

export interface HostFiles {
  /** Where the host's `/` is in the pod: `/` when the agent runs on the host itself. */
  readonly hostRoot: string;
  /** The host's resolv.conf files, as host paths: their nameservers stay on the original gateway. */
  readonly resolvConf: readonly string[];
}

export function hostFiles(raw: RawFlags): HostFiles {
  const rootText = str(raw, "host-root") ?? "/";
  if (!isAbsolute(rootText)) fail("host-root", rootText, "is not an absolute path");
  const hostRoot = normalize(rootText).replace(/(.)\/$/, "$1");
  const given = raw["resolv-conf"];
  const resolvConf = Array.isArray(given) ? given : ["/etc/resolv.conf"];
  for (const file of resolvConf) {
    if (!isAbsolute(file)) fail("resolv-conf", file, "is not an absolute path (a path on the host)");
    // The old way of naming the file (the pod's path of a file mount) would be looked up
    // under the root twice and found nowhere, leaving the resolvers unprotected.
    if (hostRoot !== "/" && (file === hostRoot || file.startsWith(`${hostRoot}/`))) {
      fail(
        "resolv-conf",
        file,
        `is under --host-root ${hostRoot}: name the file as the host does (${file.slice(hostRoot.length) || "/"})`,
      );
    }
  }
  return { hostRoot, resolvConf };
}
