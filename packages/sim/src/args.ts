/** Command-line flags: parsed strictly, with errors naming the flag and its value. */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<T extends Options>(argv: readonly string[], options: T) {
  try {
    return parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>({
      args: joinDashedValues(argv, options),
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * `--until -1` as `--until=-1`: parseArgs refuses a value starting with a dash as
 * "ambiguous" and asks whether the value was forgotten, never naming it; joined, the
 * flag's own check names the flag and the value. A dash word that is one of the
 * command's flags stays apart (`--node --json`: the value was forgotten).
 */
function joinDashedValues(argv: readonly string[], options: Options): string[] {
  const flags = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    flags.add(`--${name}`);
    if (option.short !== undefined) flags.add(`-${option.short}`);
  }
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (arg === "--") {
      args.push(...argv.slice(i));
      break;
    }
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    const takesValue = name !== undefined && options[name]?.type === "string";
    if (takesValue && next?.startsWith("-") && next !== "-" && !flags.has(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  return args;
}

export function intFlag(
  values: Record<string, unknown>,
  name: string,
  fallback: number | undefined,
  min = 0,
): number {
  const raw = values[name];
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  const text = String(raw);
  const value = Number(text);
  // Past 2^53 - 1 a number has no exact value here: no flag takes one, and saying it is no integer would be wrong.
  if (/^\d+$/.test(text) && !Number.isSafeInteger(value))
    throw new UsageError(`--${name} ${text} is too large`);
  if (!/^\d+$/.test(text) || value < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(text)}`);
  }
  return value;
}

/**
 * The `--report` path, checked before the run: a replay or a cluster can take minutes,
 * and finding then that the page cannot be written loses it.
 */
export function reportPath(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  const path = String(raw);
  if (path === "") throw new UsageError(`--report needs a file path, got ""`);
  const directory = dirname(resolve(path));
  try {
    if (!statSync(directory).isDirectory()) throw new Error("not a directory");
    accessSync(directory, constants.W_OK);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(
      `--report cannot be written: ${JSON.stringify(path)} (directory ${directory}: ${reason})`,
    );
  }
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true)
    throw new UsageError(`--report must be a file, got the directory ${JSON.stringify(path)}`);
  return path;
}
