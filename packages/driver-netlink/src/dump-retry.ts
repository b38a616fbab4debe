/**
 * NLM_F_DUMP_INTR means the kernel's tables changed while a dump was being read, so
 * the dump may miss or repeat objects. It is retried a few times; if it still comes
 * back interrupted the caller gets it flagged, and reports the snapshot incomplete
 * (nothing may be pruned on its basis).
 */
import type { DumpResult } from "./connection.ts";

export const DUMP_ATTEMPTS = 3;

export async function dumpWithRetries(
  dump: () => Promise<DumpResult>,
  attempts: number = DUMP_ATTEMPTS,
): Promise<DumpResult> {
  let result = await dump();
  for (let attempt = 1; attempt < attempts && result.interrupted && result.error === undefined; attempt++) {
    result = await dump();
  }
  return result;
}
