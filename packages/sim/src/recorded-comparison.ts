/**
 * Recorded against replayed: a replay must end holding the routes the recording agent's
 * kernel held, no more and no fewer.
 */
import type { OwnedMirror } from "./mirror.ts";

export function recordedDifferences(recorded: OwnedMirror, replayed: OwnedMirror): string[] {
  const held = summarize(replayed);
  const wanted = summarize(recorded);
  const problems: string[] = [];
  for (const line of wanted)
    if (!held.has(line)) problems.push(`recorded agent held ${line}; the replay does not`);
  for (const line of held)
    if (!wanted.has(line)) problems.push(`the replay holds ${line}; the recorded agent did not`);
  return problems;
}

/** One line per route: destination, table, metric and gateways, the parts a replay must match. */
function summarize(mirror: OwnedMirror): Set<string> {
  const lines = new Set<string>();
  for (const route of mirror.routes.values()) {
    lines.add(
      `${route.dst} table ${route.table} metric ${route.metric} via ${mirror.gatewaysOf(route).join(",")}`,
    );
  }
  return lines;
}
