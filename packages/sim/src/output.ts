/**
 * Data goes to stdout, with backpressure so that streaming a million lines does not
 * buffer them all in memory; progress goes to stderr, and only when it is a terminal.
 */
import type { Writable } from "node:stream";

export async function writeLines(out: Writable, lines: Iterable<string>): Promise<void> {
  let buffer = "";
  for (const line of lines) {
    buffer += `${line}\n`;
    if (buffer.length >= 1 << 16) {
      if (!out.write(buffer)) await new Promise<void>((resolve) => out.once("drain", resolve));
      buffer = "";
    }
  }
  if (buffer !== "") out.write(buffer);
}

export interface Progress {
  /** How far the work is, said by the caller (`4096 / 60000`, `1000 events, 45% of the file`). */
  update(status: string): void;
  /** Writes a message (a warning, an error) on a line of its own, never run into the progress line. */
  print(text: string): void;
  done(): void;
}

/** Where progress goes: process.stderr, or a stand-in for it in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

/** At most one line every 200 ms, rewritten in place; nothing at all unless `stream` is a terminal. */
export function progressOnStderr(
  label: string,
  stream: ProgressStream = process.stderr,
  now: () => number = () => performance.now(),
): Progress {
  const tty = stream.isTTY === true;
  let last: number | undefined;
  // A progress line is on the terminal, the cursor at its end: other text must clear it first.
  let shown = false;
  const clear = (): void => {
    if (!shown) return;
    stream.write("\r\x1b[K");
    shown = false;
  };
  return {
    update(status) {
      if (!tty) return;
      const t = now();
      if (last !== undefined && t - last < 200) return;
      last = t;
      stream.write(`\r${label}: ${status}`);
      shown = true;
    },
    print(text) {
      clear();
      stream.write(text);
    },
    done: clear,
  };
}
