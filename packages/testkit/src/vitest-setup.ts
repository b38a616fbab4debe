import fc from "fast-check";

// CI pins the seed so a red build is reproducible; locally every run explores new
// inputs. fast-check prints the seed and the counterexample path on failure.
const pinned = process.env.FC_SEED ?? (process.env.CI ? "20261125" : undefined);
fc.configureGlobal({
  ...(pinned === undefined ? {} : { seed: Number(pinned) }),
  numRuns: Number(process.env.FC_NUM_RUNS ?? 100),
});
