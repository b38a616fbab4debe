/**
 * Kernel tests need root (network namespaces). Without root they are reported as not
 * run, loudly; where KROUTE_REQUIRE_ROOT_TESTS=1 (CI) a missing root fails instead,
 * so a kernel test can never silently skip there.
 */
import { describe } from "vitest";

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
export const rootRequired = process.env.KROUTE_REQUIRE_ROOT_TESTS === "1";

export function describeAsRoot(name: string, body: () => void): void {
  if (isRoot) {
    describe(name, body);
    return;
  }
  if (rootRequired) {
    describe(name, () => {
      throw new Error(`${name}: needs root, and KROUTE_REQUIRE_ROOT_TESTS=1 forbids skipping`);
    });
    return;
  }
  console.warn(`NOT RUN: "${name}" needs root and network namespaces`);
  describe.skip(`${name} (NOT RUN: needs root)`, body);
}
