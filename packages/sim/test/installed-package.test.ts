/**
 * kroute-sim as installed from its packed tarball, in a project outside the repository.
 * Node refuses to strip types under node_modules, so an installed package that still
 * pointed at its TypeScript sources could not even load: these tests run the installed
 * bin with type stripping off, and check it prints what the repository's sources print.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type InstalledPackages, installPackedWorkspace } from "@kroute/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const SOURCE_CLI = fileURLToPath(new URL("../src/cli.ts", import.meta.url));
const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));
const TSC = fileURLToPath(import.meta.resolve("typescript/bin/tsc"));

let installed: InstalledPackages;
beforeAll(async () => {
  installed = await installPackedWorkspace();
}, 180_000);
afterAll(() => installed?.remove());

async function output(cli: string, nodeFlags: string[], args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [...nodeFlags, cli, ...args], { maxBuffer: 64 << 20 });
  return stdout;
}

const installedSim = (...args: string[]) =>
  output(installed.bin("@kroute/sim", "kroute-sim"), ["--no-experimental-strip-types"], args);
const sourceSim = (...args: string[]) => output(SOURCE_CLI, [], args);

describe("kroute-sim installed from its package", { timeout: 120_000 }, () => {
  it("packs its build and the example logs, not its sources or tests", () => {
    const files = installed.packedFiles("@kroute/sim");
    expect(files).toContain("lib/cli.js");
    expect(files).toContain("examples/basic.jsonl");
    expect(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).toEqual([]);
    expect(files.filter((f) => f.startsWith("test/") || f.startsWith("src/"))).toEqual([]);
  });

  it("runs the demo as the repository does, byte for byte, without type stripping", async () => {
    const demo = await installedSim("demo");
    expect(demo).toContain("#### examples/basic.jsonl");
    expect(demo).toBe(await sourceSim("demo"));
  });

  it("replays on worker threads (a module it finds beside itself) as the sources do", async () => {
    const log = `${EXAMPLES}sim/pools-and-conflicts.jsonl`;
    const replayed = await installedSim("replay", log, "--jobs", "2", "--json");
    expect(Object.keys(JSON.parse(replayed).nodes).length).toBeGreaterThan(1);
    expect(replayed).toBe(await sourceSim("replay", log, "--json"));
  });

  it("gives TypeScript users the types of @kroute/core and @kroute/driver-fake", async () => {
    const project = installed.dir;
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2024",
          lib: ["es2024"],
          strict: true,
          noEmit: true,
          types: [],
          // The type roots of the packages' dependencies (rxjs wants Node's timers) are not the point here.
          skipLibCheck: true,
        },
        files: ["use.ts"],
      }),
    );
    const typecheck = async (source: string) => {
      writeFileSync(join(project, "use.ts"), source);
      return run(process.execPath, [TSC, "-p", project]).then(
        () => "",
        (error: { stdout: string }) => error.stdout,
      );
    };
    const header =
      'import { parsePrefix } from "@kroute/core";\nimport { createFakeKernel } from "@kroute/driver-fake";\n';
    expect(
      await typecheck(
        `${header}export const routes = createFakeKernel().listSync({}).routes.length;\nexport const prefix = parsePrefix("10.0.0.0/8");\n`,
      ),
    ).toBe("");
    // Types, not `any`: a wrong use is refused, naming the packages' own type.
    expect(await typecheck(`${header}export const length: number = parsePrefix("10.0.0.0/8");\n`)).toMatch(
      /TS2322: Type 'ParseResult<Prefix>' is not assignable to type 'number'/,
    );
  });
});
