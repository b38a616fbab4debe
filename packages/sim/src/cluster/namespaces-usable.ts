/**
 * Whether this process can build the cluster's network namespaces. Root is not enough:
 * a container run as root without CAP_SYS_ADMIN (Docker's default) cannot mount
 * /run/netns, and a machine may lack `ip`. The cluster is the README's main job, so on
 * such a machine it says why and runs on fake kernels instead of failing half-built.
 */
import { createNetns } from "@kroute/lab";
import type { Teardown } from "./real-run.ts";

/**
 * Undefined when a namespace could be made (it is removed at once), else why not. The
 * namespace is the run's (`teardown`), so that a Ctrl-C while it exists removes it too.
 */
export async function whyNoNamespaces(
  teardown: Pick<Teardown, "namespace" | "creating">,
): Promise<string | undefined> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "not root";
  try {
    const ns = await teardown.creating(createNetns("kr-check", (name) => teardown.namespace(name)));
    await ns.destroy();
    return undefined;
  } catch (error) {
    return `root, but ${error instanceof Error ? error.message : String(error)}`;
  }
}
