/**
 * Bundles kroute-agent into `dist/` (one ES module, kroute-agent.js, and the chunks it
 * loads lazily): the form the image ships and the agent-memory bench measures.
 * `pnpm --filter @kroute/agent build`.
 *
 * Why a bundle, for a process that could run its TypeScript sources directly:
 * - Node's type stripper is a WebAssembly module of its own, resident for the life of
 *   the process (about 20 MiB of a 100 MiB budget);
 * - any import of @kubernetes/client-node evaluates its generated API, a class per
 *   Kubernetes kind, most of it never used. Its generated modules only declare classes
 *   (their static fields are type tables), so they are marked free of side effects and
 *   the bundler keeps only what the agent reaches.
 *
 * - client-node imports the undici package for request paths the agent never takes
 *   (kube/rest.ts speaks node:https); evaluating it held about 9 MiB, so the bundle
 *   resolves it to undici-left-out.ts, which fails loudly if ever reached.
 * - The output is ASCII, non-ASCII characters escaped: V8 keeps a module's source
 *   text for the life of the process, and one character outside Latin-1 (a dash in a
 *   comment) makes it keep the whole file at two bytes a character. JSDoc comments go.
 *
 * koffi stays outside the bundle: it finds its native addon in node_modules at run time.
 * Dead code is dropped but names are kept (no minifying): a crash's stack trace names
 * the functions, and minifying made no measurable difference to resident memory.
 */
import { resolve } from "node:path";
import { build } from "rolldown";

const packageRoot = resolve(import.meta.dirname, "../..");
const GENERATED_CLIENT = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]/;
const UNDICI_LEFT_OUT = resolve(packageRoot, "src/deploy/undici-left-out.ts");

/** Writes the bundle; returns the path of its entry module. */
export async function bundleAgent(outDir = resolve(packageRoot, "dist")): Promise<string> {
  await build({
    input: resolve(packageRoot, "src/main.ts"),
    platform: "node",
    external: ["koffi"],
    resolve: { alias: { undici: UNDICI_LEFT_OUT } },
    treeshake: { moduleSideEffects: (id) => !GENERATED_CLIENT.test(id) },
    output: {
      dir: outDir,
      cleanDir: true,
      format: "esm",
      entryFileNames: "kroute-agent.js",
      minify: "dce-only",
      charset: "ascii",
      comments: { legal: true, annotation: false, jsdoc: false },
    },
    logLevel: "warn",
  });
  return resolve(outDir, "kroute-agent.js");
}

if (import.meta.main) {
  process.stdout.write(`${await bundleAgent()}\n`);
}
