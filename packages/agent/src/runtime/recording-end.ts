/**
 * Where an existing recording ends, so that a restarted agent goes on with it: the seq
 * of its last line (the event log wants seq to increase through the whole file, and
 * an agent's engine numbers from 1), and the length of its whole lines (a line cut
 * short by a killed agent is dropped, or the next one would be glued to it).
 *
 * Only the start of the last line is read: core's encoder writes `{"v":1,"seq":N`
 * first, and a line (a resync of every Route) can run to megabytes.
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

export interface RecordingEnd {
  /** 0 for a new or empty file. */
  readonly lastSeq: number;
  /** Bytes up to and including the last newline. */
  readonly wholeBytes: number;
  /** Bytes in the file: more than wholeBytes when its last line was cut short. */
  readonly size: number;
}

const CHUNK_BYTES = 64 * 1024;
/** How every line of the log begins (core's encodeEvent). */
const LINE_PREFIX = '{"v":1,"seq":';

/** The offsets of the last `count` newlines, last first, scanning back from the end. */
async function lastNewlines(file: FileHandle, size: number, count: number): Promise<number[]> {
  const found: number[] = [];
  const chunk = Buffer.alloc(CHUNK_BYTES);
  for (let end = size; end > 0 && found.length < count; ) {
    const start = Math.max(0, end - CHUNK_BYTES);
    const { bytesRead } = await file.read(chunk, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0 && found.length < count; i--) {
      if (chunk[i] === 0x0a) found.push(start + i);
    }
    end = start;
  }
  return found;
}

async function textAt(file: FileHandle, offset: number, length: number): Promise<string> {
  const bytes = Buffer.alloc(length);
  const { bytesRead } = await file.read(bytes, 0, length, offset);
  return bytes.toString("latin1", 0, bytesRead);
}

/** Throws when the file holds something other than an event log: appending would spoil it. */
export async function recordingEnd(path: string): Promise<RecordingEnd> {
  let file: FileHandle;
  try {
    // Non-blocking: a FIFO with no writer would otherwise hold the open, and the start, forever.
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { lastSeq: 0, wholeBytes: 0, size: 0 };
    throw error;
  }
  try {
    const { size } = await file.stat();
    const notALog = () =>
      new Error(`${path} is not an event log (kroute-agent --record): not appending to it`);
    const [lastEnd, previousEnd] = await lastNewlines(file, size, 2);
    const wholeBytes = lastEnd === undefined ? 0 : lastEnd + 1;
    // What follows the last newline can only be the start of a line the agent was killed writing.
    const cut = await textAt(file, wholeBytes, Math.min(LINE_PREFIX.length, size - wholeBytes));
    if (!LINE_PREFIX.startsWith(cut)) throw notALog();
    if (lastEnd === undefined) return { lastSeq: 0, wholeBytes, size };
    const lineStart = previousEnd === undefined ? 0 : previousEnd + 1;
    const head = await textAt(file, lineStart, Math.min(64, lastEnd - lineStart));
    const seq = /^\{"v":1,"seq":(\d+),/.exec(head)?.[1];
    if (seq === undefined) throw notALog();
    return { lastSeq: Number(seq), wholeBytes, size };
  } finally {
    await file.close();
  }
}
