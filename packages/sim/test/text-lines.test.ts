import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { LineTooLongError, textLines } from "../src/text-lines.ts";

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

/** The text cut into chunks at every given offset, as a file stream may deliver it. */
function chunks(text: string, cuts: readonly number[]): Buffer[] {
  const bytes = Buffer.from(text);
  const at = [0, ...cuts.filter((c) => c > 0 && c < bytes.length), bytes.length];
  return at.slice(1).map((end, i) => bytes.subarray(at[i], end));
}

describe("textLines", () => {
  // What the log reader read with before: a log must read the same.
  const readline = (parts: Buffer[]) =>
    collect(createInterface({ input: Readable.from(parts), crlfDelay: Number.POSITIVE_INFINITY }));

  it.each([
    ["LF", "a\nbb\n\nccc\n"],
    ["CRLF, the last line without one", "a\r\nbb\r\n\r\nccc"],
    ["lone CRs", "a\rbb\r\rccc\r"],
    ["CR then LF, and LF then CR", "a\r\n\nb\n\rc"],
    ["multi-byte characters", "é€𝄞\n€\r\n𝄞é"],
    ["nothing", ""],
    ["a newline alone", "\n"],
  ])("splits %s as readline does, however the chunks fall", async (_, text) => {
    const length = Buffer.byteLength(text);
    for (let cut = 0; cut <= length; cut++) {
      for (const second of [cut + 1, cut + 2]) {
        const parts = chunks(text, [cut, second]);
        expect(await collect(textLines(Readable.from(parts), 100))).toEqual(await readline(parts));
      }
    }
  });

  it("refuses a line longer than the limit, naming it, before holding more of it", async () => {
    let read = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      yield Buffer.from("ok\r\nfine\n");
      for (;;) {
        read++;
        yield Buffer.alloc(1024, "x");
      }
    }
    const seen: string[] = [];
    const error = await (async () => {
      try {
        for await (const line of textLines(endless(), 4096)) seen.push(line);
      } catch (e) {
        return e;
      }
    })();
    expect(seen).toEqual(["ok", "fine"]);
    expect(error).toBeInstanceOf(LineTooLongError);
    expect(error).toMatchObject({ line: 3, maxChars: 4096 });
    expect(read).toBe(5);
  });

  it("takes a line of exactly the limit", async () => {
    const line = "y".repeat(4096);
    expect(await collect(textLines(Readable.from([Buffer.from(`${line}\n${line}`)]), 4096))).toEqual([
      line,
      line,
    ]);
  });
});
