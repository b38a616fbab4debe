/**
 * The Dockerfile's build, replayed without a container engine (none can be had here):
 * the build context as .dockerignore filters it is copied into a fresh directory that
 * stands for the image's root, the build stage's RUN commands run there in order, with
 * absolute paths taken under that root, and the files the final stage copies from the
 * build stage must then start the agent. A fresh copy matters: the workspace's own
 * node_modules hold typecheck output that a build from a clean context never has.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { copyDockerContext, dockerfileStages, runsOfStage } from "./docker-build.ts";

const repoRoot = resolve(import.meta.dirname, "../../../..");
const run = promisify(execFile);

/** Absolute paths in a command (a word starting with `/`), moved under `root`. */
function underRoot(command: string, root: string): string {
  return command.replace(/(^|[\s=])\/(?=[\w.])/g, `$1${root}/`);
}

describe("the Dockerfile's build, replayed outside a container", () => {
  const root = mkdtempSync(join(tmpdir(), "kroute-docker-build-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("typechecks and bundles the agent from a clean build context", { timeout: 600_000 }, async () => {
    const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
    const stages = dockerfileStages(dockerfile);
    const runs = runsOfStage(stages, "build");
    const firstWorkdir = runs[0]?.workdir ?? "/";
    // The build copies the whole context into its WORKDIR (COPY of the manifests, then packages/).
    copyDockerContext(
      repoRoot,
      readFileSync(join(repoRoot, ".dockerignore"), "utf8"),
      join(root, firstWorkdir),
    );

    // `corepack enable` would put pnpm shims into the Node installation the tests run on;
    // the pnpm on PATH stands in for it, and must be the version the workspace pins.
    const manifest = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      packageManager: string;
    };
    const { stdout: pnpmVersion } = await run("pnpm", ["--version"]);
    expect(`pnpm@${pnpmVersion.trim()}`).toBe(manifest.packageManager);

    for (const { command, workdir } of runs) {
      if (command === "corepack enable") continue;
      const cwd = join(root, workdir);
      mkdirSync(cwd, { recursive: true });
      // The tests run offline: pnpm installs from its store.
      const env = { ...process.env, npm_config_offline: "true" };
      // At the lowest CPU priority: a whole typecheck beside the timing-sensitive e2e tests
      // that run in parallel would otherwise slow them past their deadlines.
      const result = await run("nice", ["-n", "19", "sh", "-ec", underRoot(command, root)], {
        cwd,
        env,
      }).then(
        () => "ok",
        (error: { stdout?: string; stderr?: string }) =>
          `RUN ${command}\nfailed:\n${error.stdout ?? ""}${error.stderr ?? ""}`.slice(0, 4000),
      );
      expect(result).toBe("ok");
    }

    // The final stage's COPY --from=build, then its ENTRYPOINT, from inside the image's root.
    const final = stages.at(-1);
    const copies = (final?.instructions ?? [])
      .filter((i) => i.keyword === "COPY" && i.args.startsWith("--from=build "))
      .map((i) => i.args.split(/\s+/).slice(1));
    expect(copies.length).toBeGreaterThan(0);
    for (const [from = "", to = ""] of copies) cpSync(join(root, from), join(root, to), { recursive: true });
    const entrypoint = final?.instructions.find((i) => i.keyword === "ENTRYPOINT");
    const [node, ...args] = JSON.parse(entrypoint?.args ?? "[]") as string[];
    expect(node).toBe("node");
    const { stdout } = await run(process.execPath, [...args.map((a) => underRoot(a, root)), "--help"]);
    expect(stdout).toMatch(/^usage: kroute-agent/);
  });
});
