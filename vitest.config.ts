import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts"],
    setupFiles: ["packages/testkit/src/vitest-setup.ts"],
    reporters: ["default", "./packages/testkit/src/summary-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Kernel tests create network namespaces; keep file-level parallelism modest on 2 cores.
    maxWorkers: 2,
  },
});
