/**
 * `pnpm bench NAME`: runs one benchmark from scripts/bench/NAME.ts. Each benchmark
 * compares against a peer in the same run and ends by printing one JSON line.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = join(dirname(fileURLToPath(import.meta.url)), "bench");
const available = readdirSync(here)
  .filter((f) => f.endsWith(".ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const name = process.argv[2];
if (name === undefined || !available.includes(name)) {
  console.error(`usage: pnpm bench <${available.join("|")}>`);
  process.exit(2);
}
await import(join(here, `${name}.ts`));
