/**
 * Appends to a file, holding what it has not taken yet, without ever leaving one of
 * libuv's thread-pool threads blocked in a write for good.
 *
 * Node's fs streams write from the thread pool on a blocking descriptor: a pipe or FIFO
 * that nobody reads holds such a write, and its thread, forever. Node's exit joins every
 * thread-pool thread (uv__threadpool_cleanup), so the process then never exits, not even
 * on process.exit: only SIGKILL ends it. Here the file is opened non-blocking, a full pipe
 * answers EAGAIN, and the write is tried again shortly. A regular file ignores
 * O_NONBLOCK: its writes take as long as the disk does, and end.
 *
 * Opening non-blocking also means a FIFO nobody has open for reading is refused at once
 * (ENXIO), where a blocking open would wait for a reader, and the agent's start with it.
 */
import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

export interface AppendWriter {
  /** Bytes handed to write that the file has not taken yet. */
  readonly queuedBytes: number;
  /** Queues the text; nothing more is written after a write failed (reported once to onError). */
  write(text: string): void;
  /**
   * Waits up to `timeoutMs` for the file to take what is queued, then closes it.
   * Resolves with the bytes given up (0 when everything was written).
   */
  close(timeoutMs: number): Promise<number>;
}

/** How soon a full pipe is tried again. */
const RETRY_MS = 20;
/** Linux's IOV_MAX: the most buffers one writev takes. */
const MAX_BUFFERS_PER_WRITE = 1024;

export async function openAppendWriter(
  path: string,
  onError: (error: NodeJS.ErrnoException) => void,
): Promise<AppendWriter> {
  const file: FileHandle = await open(
    path,
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK,
  );
  const queue: Buffer[] = [];
  let queuedBytes = 0;
  let failed = false;
  let closing = false;
  let pumping: Promise<void> | undefined;

  const writeSome = async (): Promise<void> => {
    const { bytesWritten } = await file.writev(queue.slice(0, MAX_BUFFERS_PER_WRITE));
    queuedBytes -= bytesWritten;
    let left = bytesWritten;
    while (left > 0) {
      const first = queue[0] as Buffer;
      if (first.length > left) {
        queue[0] = first.subarray(left); // a partial write: the rest of the line goes next
        break;
      }
      left -= first.length;
      queue.shift();
    }
  };

  const pump = async (): Promise<void> => {
    while (queue.length > 0 && !failed && !closing) {
      try {
        await writeSome();
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        if (e.code === "EAGAIN") {
          await sleep(RETRY_MS);
          continue;
        }
        failed = true;
        queue.length = 0;
        queuedBytes = 0;
        onError(e);
      }
    }
  };
  const startPumping = () => {
    pumping ??= pump().finally(() => {
      pumping = undefined;
    });
    return pumping;
  };

  return {
    get queuedBytes() {
      return queuedBytes;
    },
    write(text) {
      if (failed || closing) return;
      const bytes = Buffer.from(text);
      queue.push(bytes);
      queuedBytes += bytes.length;
      void startPumping();
    },
    async close(timeoutMs) {
      let timer: NodeJS.Timeout | undefined;
      const outlasted = new Promise<void>((done) => {
        timer = setTimeout(done, timeoutMs);
      });
      await Promise.race([startPumping(), outlasted]);
      clearTimeout(timer);
      closing = true;
      const givenUp = queuedBytes;
      // A write to a regular file on a slow disk may still be under way: its close follows it.
      void Promise.resolve(pumping)
        .then(() => file.close())
        .catch((error: NodeJS.ErrnoException) => {
          if (!failed) onError(error);
        });
      return givenUp;
    },
  };
}
