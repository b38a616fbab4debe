/**
 * The workspace's packages as a user gets them: built (`pnpm build`), packed by pnpm
 * (publishConfig applied, workspace: versions replaced, only `files` kept), and
 * unpacked into a node_modules of their own outside the repository.
 *
 * The build and the packing run in a copy of the workspace in a temporary directory,
 * never in the repository: two test files may do this at once, and a test must not
 * write build output into the tree it is testing. Third-party dependencies are linked
 * from the workspace's own install (the tests run offline); everything of kroute's
 * comes from the tarballs alone.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const repository = resolve(import.meta.dirname, "../../..");
/** What the build reads besides the packages. */
const ROOT_FILES = ["package.json", "pnpm-workspace.yaml", "tsconfig.base.json", "tsconfig.build.base.json"];
/** What the build and pnpm pack read of a package (node_modules: pnpm's relative links, kept as links). */
const PACKAGE_ENTRIES = [
  "package.json",
  "tsconfig.build.json",
  "README.md",
  "src",
  "examples",
  "node_modules",
];

export interface InstalledPackages {
  /** The directory whose node_modules holds the installed packages (a consumer project). */
  readonly dir: string;
  /** Absolute path of a package's installed directory: `@kroute/sim` → …/node_modules/@kroute/sim. */
  packageDir(name: string): string;
  /** Absolute path of a bin, as the installed package.json names it. */
  bin(packageName: string, binName: string): string;
  /** Paths of the files in a package's tarball, relative to its root. */
  packedFiles(name: string): readonly string[];
  remove(): void;
}

interface Manifest {
  readonly name: string;
  readonly private?: boolean;
  readonly bin?: Readonly<Record<string, string>>;
  readonly dependencies?: Readonly<Record<string, string>>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;
}

function copyWorkspace(to: string): void {
  for (const file of ROOT_FILES) cpSync(join(repository, file), join(to, file));
  symlinkSync(join(repository, "node_modules"), join(to, "node_modules"));
  for (const name of readdirSync(join(repository, "packages"))) {
    const from = join(repository, "packages", name);
    for (const entry of PACKAGE_ENTRIES) {
      if (!existsSync(join(from, entry))) continue;
      cpSync(join(from, entry), join(to, "packages", name, entry), {
        recursive: true,
        verbatimSymlinks: true,
      });
    }
  }
}

/** Builds and packs every public package; returns the tarballs by package name. */
async function packAll(workspace: string, into: string): Promise<Map<string, string>> {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  await run(process.execPath, [tsc, "-b", "packages/sim/tsconfig.build.json"], { cwd: workspace });
  const tarballs = new Map<string, string>();
  for (const name of readdirSync(join(workspace, "packages"))) {
    const dir = join(workspace, "packages", name);
    const pkg = manifest(dir);
    if (pkg.private === true) continue;
    const { stdout } = await run("pnpm", ["pack", "--json", "--pack-destination", into], { cwd: dir });
    tarballs.set(pkg.name, (JSON.parse(stdout) as { filename: string }).filename);
  }
  return tarballs;
}

async function unpack(tarball: string, into: string): Promise<readonly string[]> {
  mkdirSync(into, { recursive: true });
  const { stdout } = await run("tar", ["-xzvf", tarball, "-C", into, "--strip-components=1"]);
  return stdout
    .trim()
    .split("\n")
    .map((line) => line.replace(/^package\//, ""));
}

/** Links a third-party dependency from the workspace package that declares it. */
function linkDependency(consumer: string, declaredBy: string, dependency: string): void {
  const target = join(consumer, "node_modules", dependency);
  if (existsSync(target)) return;
  mkdirSync(dirname(target), { recursive: true });
  symlinkSync(realpathSync(join(repository, "packages", declaredBy, "node_modules", dependency)), target);
}

export async function installPackedWorkspace(): Promise<InstalledPackages> {
  const dir = mkdtempSync(join(tmpdir(), "kroute-packed-"));
  try {
    return await installInto(dir);
  } catch (error) {
    // A failed build or pack leaves nothing behind in the temporary directory.
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

async function installInto(dir: string): Promise<InstalledPackages> {
  const workspace = join(dir, "workspace");
  const consumer = join(dir, "consumer");
  copyWorkspace(workspace);
  const tarballs = await packAll(workspace, join(dir, "tarballs"));
  const files = new Map<string, readonly string[]>();
  const packageDir = (name: string) => join(consumer, "node_modules", name);
  for (const [name, tarball] of tarballs) files.set(name, await unpack(tarball, packageDir(name)));
  for (const name of tarballs.keys()) {
    for (const dependency of Object.keys(manifest(packageDir(name)).dependencies ?? {})) {
      if (!tarballs.has(dependency)) linkDependency(consumer, name.replace("@kroute/", ""), dependency);
    }
  }
  return {
    dir: consumer,
    packageDir,
    bin(packageName, binName) {
      const path = manifest(packageDir(packageName)).bin?.[binName];
      if (path === undefined) throw new Error(`${packageName} has no bin ${binName}`);
      return join(packageDir(packageName), path);
    },
    packedFiles(name) {
      const list = files.get(name);
      if (list === undefined) throw new Error(`${name} was not packed`);
      return list;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
