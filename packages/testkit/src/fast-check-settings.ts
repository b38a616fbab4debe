/**
 * fast-check's global settings from the environment. CI pins the seed so a red build
 * replays as it failed; locally every run explores new inputs. FC_SEED (the seed a
 * failure printed) and FC_NUM_RUNS override. A value that is not an integer is an
 * error: Number("abc") would quietly run seed 0, not the failure one meant to replay.
 */
export const CI_SEED = 20261125;
const DEFAULT_NUM_RUNS = 100;

export interface FastCheckSettings {
  readonly seed?: number;
  readonly numRuns: number;
}

function integer(name: string, text: string, min: number): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isSafeInteger(value) || value < min)
    throw new Error(
      `${name}: ${JSON.stringify(text)} is not an integer${min > 0 ? ` of at least ${min}` : ""}`,
    );
  return value;
}

export function fastCheckSettings(env: Readonly<Record<string, string | undefined>>): FastCheckSettings {
  const numRuns =
    env.FC_NUM_RUNS === undefined ? DEFAULT_NUM_RUNS : integer("FC_NUM_RUNS", env.FC_NUM_RUNS, 1);
  if (env.FC_SEED !== undefined)
    return { seed: integer("FC_SEED", env.FC_SEED, Number.MIN_SAFE_INTEGER), numRuns };
  return env.CI ? { seed: CI_SEED, numRuns } : { numRuns };
}
