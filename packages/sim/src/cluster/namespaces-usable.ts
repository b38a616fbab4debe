/**
 * Whether this process can build the cluster's network namespaces. Root is not enough:
 * a container run as root without CAP_SYS_ADMIN (Docker's default) cannot mount
 * /run/netns, and a machine may lack `ip`. The cluster is the README's main job, so on
 * such a machine it says why and runs on fake kernels instead of failing half-built.
 */
import { createNetns } from "@kroute/lab";

/** Undefined when a namespace could be made (it is removed at once), else why not. */
export async function whyNoNamespaces(): Promise<string | undefined> {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return "not root";
  try {
    const ns = await createNetns("kr-check");
    await ns.destroy();
    return undefined;
  } catch (error) {
    return `root, but ${error instanceof Error ? error.message : String(error)}`;
  }
}
