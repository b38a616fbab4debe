/**
 * Reads an event log line by line (never the whole file in memory), decoding with the
 * core's codec: an error names the line; unknown kinds are skipped with a warning. A log
 * holding no event at all is refused: replayed, it would print nothing and succeed, as
 * if the wrong file (or a recording that never started) were a cluster where all is well.
 */
import { createReadStream, fstatSync } from "node:fs";
import { createLogDecoder, type EngineEvent, type LogWarning } from "@kroute/core";
import { counted } from "./counted.ts";
import { notText } from "./not-text.ts";
import { LineTooLongError, textLines } from "./text-lines.ts";

export class MalformedLogError extends Error {}

/**
 * The longest line read, in characters: 128 times a sim-scale log's longest (its
 * `route/resynced` of 5,000 Routes, 2 MB), and half the longest string V8 holds, so that
 * decoding it stays within memory. A longer line is no event: the wrong file, most likely.
 */
export const MAX_LINE_CHARS = 256 * 1024 * 1024;

/** An event with the line it was read from: facts found bad only when replayed are reported by line too. */
export interface LoggedEvent {
  readonly event: EngineEvent;
  readonly line: number;
  /** How much of the log has been read, 0 to 1; absent when its size is unknown (a pipe). */
  readonly fraction?: number;
}

export async function* readLog(
  path: string,
  onWarning: (warning: LogWarning) => void,
): AsyncGenerator<LoggedEvent> {
  const decoder = createLogDecoder();
  const input = createReadStream(path);
  // The size of a regular file, for progress: bytes read of it (the stream reads ahead of
  // the lines by at most one chunk). A pipe's size says nothing.
  let size: number | undefined;
  input.once("open", (fd: number) => {
    const stat = fstatSync(fd);
    if (stat.isFile() && stat.size > 0) size = stat.size;
  });
  const lines = textLines(input, MAX_LINE_CHARS);
  let lineNumber = 0;
  let events = 0;
  let unknown = 0;
  for await (const read of refuseLongLines(lines, path)) {
    lineNumber++;
    // A byte order mark, as editors on Windows save UTF-8, is no part of the first event.
    const line = lineNumber === 1 && read.startsWith("\ufeff") ? read.slice(1) : read;
    const result = decoder.push(line);
    switch (result.kind) {
      case "event":
        events++;
        yield {
          event: result.event,
          line: lineNumber,
          // A file still being written can outgrow the size it had when opened.
          ...(size === undefined ? {} : { fraction: Math.min(1, input.bytesRead / size) }),
        };
        break;
      case "unknown":
        unknown++;
        onWarning(result.warning);
        break;
      case "blank":
        break;
      case "error":
        throw new MalformedLogError(`${path}: ${notText(line, lineNumber) ?? result.error.message}`);
      default: {
        const unreachable: never = result;
        throw new Error(`unexpected line result ${JSON.stringify(unreachable)}`);
      }
    }
  }
  if (events === 0)
    throw new MalformedLogError(`${path}: no events in it (${whatItHolds(lineNumber, unknown)})`);
}

async function* refuseLongLines(lines: AsyncGenerator<string>, path: string): AsyncGenerator<string> {
  try {
    yield* lines;
  } catch (error) {
    if (!(error instanceof LineTooLongError)) throw error;
    throw new MalformedLogError(
      `${path}: line ${error.line}: more than ${error.maxChars / (1024 * 1024)} Mi characters long, which no event is: is this an event log?`,
    );
  }
}

function whatItHolds(lines: number, unknown: number): string {
  if (lines === 0) return "the file is empty";
  if (unknown === 0) return counted(lines, "blank line");
  if (unknown === lines) return `${counted(lines, "line")}, all of unknown kinds`;
  return `${lines} lines: ${unknown} of unknown kinds, the others blank`;
}
