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
  update(done: number, total?: number): void;
  done(): void;
}

export function progressOnStderr(label: string): Progress {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  return {
    update(done, total) {
      if (!tty) return;
      const now = performance.now();
      if (now - last < 200) return;
      last = now;
      const of = total === undefined ? "" : ` / ${total}`;
      process.stderr.write(`\r${label}: ${done}${of}`);
    },
    done() {
      if (tty && last > 0) process.stderr.write("\r\x1b[K");
    },
  };
}
