/**
 * What `docker build` would do with the repository's Dockerfile, for the part of it
 * that needs no container engine: the build context as .dockerignore filters it, and
 * the RUN commands of a stage and the stages it is built FROM, in order.
 */
import { cpSync, mkdirSync, readdirSync, readlinkSync, symlinkSync } from "node:fs";
import { dirname, join, matchesGlob } from "node:path";

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

export interface Stage {
  readonly name: string | undefined;
  readonly from: string;
  readonly instructions: readonly Instruction[];
}

/** The Dockerfile's stages, continuation lines joined, comments and parser directives left out. */
export function dockerfileStages(dockerfile: string): Stage[] {
  const lines = dockerfile.replace(/\\\n/g, " ").split("\n");
  const stages: { name: string | undefined; from: string; instructions: Instruction[] }[] = [];
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [, keyword = "", args = ""] = /^(\S+)\s*(.*)$/.exec(trimmed) ?? [];
    if (keyword.toUpperCase() === "FROM") {
      const [, from = "", name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ name, from, instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

export interface Run {
  readonly command: string;
  /** The WORKDIR in force, `/` when none was set. */
  readonly workdir: string;
}

/** The RUN commands that build `stageName`, with their WORKDIR: those of the stages it is FROM first. */
export function runsOfStage(stages: readonly Stage[], stageName: string): Run[] {
  return replay(stages, stageName).runs;
}

function replay(stages: readonly Stage[], stageName: string): { runs: Run[]; workdir: string } {
  const stage = stages.find((s) => s.name === stageName);
  if (stage === undefined) throw new Error(`the Dockerfile has no stage ${stageName}`);
  const base = stages.some((s) => s.name === stage.from)
    ? replay(stages, stage.from)
    : { runs: [], workdir: "/" };
  const runs = [...base.runs];
  let workdir = base.workdir;
  for (const { keyword, args } of stage.instructions) {
    if (keyword === "WORKDIR")
      workdir = args.startsWith("/") ? args : `${workdir.replace(/\/$/, "")}/${args}`;
    if (keyword === "RUN") runs.push({ command: args, workdir });
  }
  return { runs, workdir };
}

/**
 * Copies the build context into `to` as `docker build` sends it: every path that a
 * .dockerignore pattern matches (from the context's root, `**` for any depth) is left
 * out, with everything under it. Exceptions (`!pattern`) are not supported here.
 */
export function copyDockerContext(contextDir: string, dockerignore: string, to: string): void {
  const patterns = dockerignore
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.replace(/^\/+/, "").replace(/\/+$/, ""));
  const exception = patterns.find((p) => p.startsWith("!"));
  if (exception !== undefined) throw new Error(`.dockerignore exceptions are not supported: ${exception}`);
  const walk = (relative: string): void => {
    for (const entry of readdirSync(join(contextDir, relative), { withFileTypes: true })) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (patterns.some((pattern) => matchesGlob(path, pattern))) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isSymbolicLink()) {
        // Sent as the link it is, as Docker does.
        mkdirSync(dirname(join(to, path)), { recursive: true });
        symlinkSync(readlinkSync(join(contextDir, path)), join(to, path));
      } else cpSync(join(contextDir, path), join(to, path));
    }
  };
  walk("");
}
