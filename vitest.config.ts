import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts"],
    setupFiles: ["packages/testkit/src/vitest-setup.ts"],
    reporters: ["default", "./packages/testkit/src/summary-reporter.ts"],
    // Only bound a hang: no test's requirement is its duration (the few timing requirements
    // are measured inside the test). On a loaded 2-core runner a CPU-bound test runs many
    // times slower than alone: at a load of 18-22 the sim CLI and parallel replay tests
    // (8-12 s in a quiet suite) took 30 s to over 120 s, and failed the 30 s this was.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Kernel tests create network namespaces; keep file-level parallelism modest on 2 cores.
    maxWorkers: 2,
  },
});
