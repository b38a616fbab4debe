import fc from "fast-check";
import { fastCheckSettings } from "./fast-check-settings.ts";

// fast-check prints the seed and the counterexample path on failure.
fc.configureGlobal(fastCheckSettings(process.env));
