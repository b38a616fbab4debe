/** Command-line flags: parsed strictly, with errors naming the flag and its value. */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags<T extends Options>(argv: readonly string[], options: T) {
  try {
    return parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>({
      args: [...argv],
      options,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
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
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
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
