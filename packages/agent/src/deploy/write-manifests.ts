/**
 * `pnpm --filter @kroute/agent manifests`: regenerates the DOKS-group CRDs and the
 * plain manifests from the Helm chart. A test fails when the committed files differ.
 */
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { generatedDeployFiles } from "./chart.ts";

const repoRoot = resolve(import.meta.dirname, "../../../..");
for (const [file, text] of generatedDeployFiles(repoRoot)) {
  writeFileSync(join(repoRoot, file), text);
  console.log(`wrote ${file}`);
}
