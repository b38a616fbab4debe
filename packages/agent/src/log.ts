/**
 * Structured JSON logs (pino) on stdout, one object per line, with the node name on
 * every line so that logs collected from a whole cluster stay attributable.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "./settings.ts";

export type { Logger } from "pino";

export function createLogger(options: {
  level: LogLevel;
  node?: string;
  destination?: DestinationStream;
}): Logger {
  const base = options.node !== undefined ? { node: options.node } : {};
  return pino(
    {
      level: options.level,
      base,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
