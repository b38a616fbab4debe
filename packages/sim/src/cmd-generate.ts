/** `kroute-sim generate`: a synthetic event log on stdout. */
import { intFlag, parseFlags, UsageError } from "./args.ts";
import { checkGenerateOptions, type GenerateOptions, generateLog } from "./generate.ts";
import { progressOnStderr, writeLines } from "./output.ts";

export async function runGenerate(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    nodes: { type: "string" },
    routes: { type: "string" },
    events: { type: "string" },
    seed: { type: "string" },
    pools: { type: "string" },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  const nodes = intFlag(values, "nodes", 3, 1);
  const options: GenerateOptions = {
    nodes,
    routes: intFlag(values, "routes", 10),
    events: intFlag(values, "events", 100),
    seed: intFlag(values, "seed", 1),
    ...(values.pools === undefined ? {} : { pools: intFlag(values, "pools", undefined, 1) }),
  };
  const problem = checkGenerateOptions(options);
  if (problem !== undefined) throw new UsageError(problem);
  const progress = progressOnStderr("generate");
  function* counted(): Generator<string> {
    let n = 0;
    for (const line of generateLog(options)) {
      yield line;
      if (++n % 4096 === 0) progress.update(`${n} / ${options.events}`);
    }
  }
  await writeLines(process.stdout, counted());
  progress.done();
  return 0;
}
