/**
 * The lines of a text stream, split as node:readline splits them (`\n`, `\r\n` and a
 * lone `\r` end a line; a last line without one counts), but never holding more than
 * `maxChars` of one line: readline gathers a line whole, and one past the longest
 * string V8 can hold (about 512 Mi characters: a file without newlines, a disk image
 * given by mistake) crashed the replay with "RangeError: Invalid string length" and no
 * line named, after gigabytes of memory.
 */
import { StringDecoder } from "node:string_decoder";

export class LineTooLongError extends Error {
  readonly line: number;
  readonly maxChars: number;

  constructor(line: number, maxChars: number) {
    super(`line ${line} is longer than ${maxChars} characters`);
    this.line = line;
    this.maxChars = maxChars;
  }
}

export async function* textLines(input: AsyncIterable<Buffer>, maxChars: number): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  // The current line's text so far, in the pieces the chunks brought.
  let pieces: string[] = [];
  let length = 0;
  let lines = 0;
  // A chunk ended with `\r`: a `\n` starting the next belongs to the same line end.
  let afterCr = false;
  const take = (piece: string): void => {
    length += piece.length;
    if (length > maxChars) throw new LineTooLongError(lines + 1, maxChars);
    pieces.push(piece);
  };
  const line = (): string => {
    const text = pieces.join("");
    pieces = [];
    length = 0;
    lines++;
    return text;
  };
  const split = function* (text: string): Generator<string> {
    let start = afterCr && text.startsWith("\n") ? 1 : 0;
    afterCr = false;
    const breaks = /[\r\n]/g;
    breaks.lastIndex = start;
    for (let found = breaks.exec(text); found !== null; found = breaks.exec(text)) {
      take(text.slice(start, found.index));
      yield line();
      start = found.index + 1;
      if (text[found.index] === "\r") {
        if (start === text.length) afterCr = true;
        else if (text[start] === "\n") start++;
      }
      breaks.lastIndex = start;
    }
    if (start < text.length) take(text.slice(start));
  };
  for await (const chunk of input) yield* split(decoder.write(chunk));
  yield* split(decoder.end());
  if (length > 0) yield line();
}
