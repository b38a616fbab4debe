/**
 * One NETLINK_ROUTE socket: requests go out with sequence numbers, replies are
 * matched back by seq. Non-blocking; readiness from libuv; big sends run on a koffi
 * worker thread, so the JS event loop is never held by the kernel's work.
 *
 * Socket options: extended ACKs (the kernel's reason strings), capped ACKs (errors
 * do not echo the whole request back), strict checking (dump filters are honoured
 * rather than silently ignored), large buffers for batches of thousands.
 */
import { Writer } from "./codec/bytes.ts";
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_MULTI, NLM_F_REQUEST } from "./codec/constants.ts";
import type { ErrorMessage } from "./codec/error.ts";
import {
  type BodyWriter,
  decodeMessages,
  encodeRequest,
  type Message,
  type MessageBody,
} from "./codec/message.ts";
import * as ffi from "./ffi.ts";

export interface Request {
  readonly type: number;
  readonly flags: number;
  readonly body: MessageBody | BodyWriter;
}

export interface DumpResult {
  readonly messages: readonly Message[];
  /** NLM_F_DUMP_INTR was seen: the kernel's tables changed during the dump. */
  readonly interrupted: boolean;
  /** The dump failed as a whole (NLMSG_ERROR, or DONE with an error). */
  readonly error?: ErrorMessage;
}

interface Pending {
  readonly first: number;
  readonly last: number;
  onMessage(message: Message): void;
  onFailure(errno: number): void;
}

export interface ConnectionOptions {
  readonly netns?: string;
  /** RTNLGRP_* multicast groups to join (the notification socket). */
  readonly groups?: readonly number[];
  readonly receiveBuffer?: number;
  /** Messages not answering a request: notifications. */
  readonly onNotification?: (message: Message) => void;
  /** The receive buffer overflowed: notifications (or replies) were lost. */
  readonly onOverflow?: () => void;
}

/** Bytes per send: keeps each kernel pass short and the error backlog bounded. */
const CHUNK_BYTES = 64 * 1024;
const CHUNK_MESSAGES = 1024;

export class NetlinkConnection {
  private readonly fd: number;
  private readonly watcher: ffi.ReadableWatch;
  private readonly pending: Pending[] = [];
  private readonly buffer = new Uint8Array(1 << 20);
  private readonly options: ConnectionOptions;
  private seq: number;
  private closed = false;
  /** The dump in progress, if any: the next one starts after it (see `dump`). */
  private dumping: Promise<unknown> = Promise.resolve();

  private constructor(fd: number, options: ConnectionOptions) {
    this.fd = fd;
    this.options = options;
    this.seq = (Date.now() & 0x7fffffff) >>> 0;
    this.watcher = ffi.watchReadable(fd, () => this.drain());
  }

  static open(options: ConnectionOptions = {}): NetlinkConnection {
    const fd = ffi.inNetns(options.netns, () =>
      ffi.check(
        "socket(AF_NETLINK)",
        ffi.socket(ffi.AF_NETLINK, ffi.SOCK_RAW | ffi.SOCK_NONBLOCK, ffi.NETLINK_ROUTE),
      ),
    );
    try {
      const address = new Uint8Array(12);
      new DataView(address.buffer).setUint16(0, ffi.AF_NETLINK, true);
      ffi.check("bind(AF_NETLINK)", ffi.bind(fd, address));
      const size = options.receiveBuffer ?? 32 * 1024 * 1024;
      // RCVBUFFORCE ignores rmem_max (we are root); fall back to the capped option otherwise.
      if (ffi.setsockoptInt(fd, ffi.SOL_SOCKET, ffi.SO_RCVBUFFORCE, size) < 0) {
        ffi.setsockoptInt(fd, ffi.SOL_SOCKET, ffi.SO_RCVBUF, size);
      }
      if (ffi.setsockoptInt(fd, ffi.SOL_SOCKET, ffi.SO_SNDBUFFORCE, 4 * CHUNK_BYTES) < 0) {
        ffi.setsockoptInt(fd, ffi.SOL_SOCKET, ffi.SO_SNDBUF, 4 * CHUNK_BYTES);
      }
      ffi.check("NETLINK_EXT_ACK", ffi.setsockoptInt(fd, ffi.SOL_NETLINK, ffi.NETLINK_EXT_ACK, 1));
      ffi.check("NETLINK_CAP_ACK", ffi.setsockoptInt(fd, ffi.SOL_NETLINK, ffi.NETLINK_CAP_ACK, 1));
      ffi.check(
        "NETLINK_GET_STRICT_CHK",
        ffi.setsockoptInt(fd, ffi.SOL_NETLINK, ffi.NETLINK_GET_STRICT_CHK, 1),
      );
      for (const group of options.groups ?? []) {
        ffi.check(
          `join group ${group}`,
          ffi.setsockoptInt(fd, ffi.SOL_NETLINK, ffi.NETLINK_ADD_MEMBERSHIP, group),
        );
      }
    } catch (error) {
      ffi.close(fd);
      throw error;
    }
    return new NetlinkConnection(fd, options);
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private drain(): void {
    for (;;) {
      if (this.closed) return;
      const n = ffi.recv(this.fd, this.buffer);
      if (n === -ffi.EAGAIN || n === -ffi.EINTR) return;
      if (n === -ffi.ENOBUFS) {
        this.options.onOverflow?.();
        this.failAll(ffi.ENOBUFS);
        continue;
      }
      if (n < 0) {
        this.failAll(-n);
        return;
      }
      if (n === 0) return;
      const decoded = decodeMessages(this.buffer.subarray(0, n));
      if (!decoded.ok) {
        // A datagram we cannot parse: whatever it answered is lost; say so instead of hanging.
        process.emitWarning(`netlink: undecodable datagram: ${decoded.error.message}`);
        this.failAll(ffi.EPROTO);
        continue;
      }
      for (const message of decoded.value) this.dispatch(message);
    }
  }

  private dispatch(message: Message): void {
    if (message.seq !== 0) {
      for (const p of this.pending) {
        if (inRange(message.seq, p.first, p.last)) {
          p.onMessage(message);
          return;
        }
      }
    }
    this.options.onNotification?.(message);
  }

  private failAll(errno: number): void {
    const all = this.pending.splice(0);
    for (const p of all) p.onFailure(errno);
  }

  private add(p: Pending): void {
    this.pending.push(p);
  }

  private remove(p: Pending): void {
    const i = this.pending.indexOf(p);
    if (i >= 0) this.pending.splice(i, 1);
  }

  private async sendAll(bytes: Uint8Array): Promise<number> {
    if (this.closed) return -ffi.EBADF;
    const rc = await ffi.sendAsync(this.fd, bytes);
    return rc;
  }

  /**
   * Sends requests in chunks, each with NLM_F_ACK on its last message only: the
   * kernel answers failures individually and the last message's ACK is the barrier
   * proving every earlier one was handled. `onError(i, error)` reports the kernel's
   * refusal of the i-th request; silence means success.
   *
   * Pipelined: rtnetlink handles a request inside sendmsg, so once a chunk's send
   * returns the kernel has applied it (order is kept), and the next chunk, encoded
   * on the JS thread while the worker thread was in the kernel, goes straight out.
   */
  async batch(
    requests: Iterable<Request>,
    onError: (index: number, error: ErrorMessage) => void,
  ): Promise<number> {
    const source = requests[Symbol.iterator]();
    let next = source.next();
    let count = 0;
    let inFlight: Promise<void> = Promise.resolve();
    const barriers: Promise<void>[] = [];
    while (!next.done) {
      const w = new Writer(CHUNK_BYTES + 16 * 1024);
      const chunkStart = count;
      const first = this.nextSeq();
      let seq = first;
      let lastAt = 0;
      let n = 0;
      // Type and flags of each request, for the synthetic error of one the kernel never
      // answered; numbers, not the requests, so the requests die young.
      const types = new Uint16Array(CHUNK_MESSAGES);
      const flags = new Uint16Array(CHUNK_MESSAGES);
      while (!next.done && n < CHUNK_MESSAGES && w.offset < CHUNK_BYTES) {
        if (n > 0) seq = this.nextSeq();
        const r = next.value;
        lastAt = w.offset;
        encodeRequest(w, r.type, r.flags | NLM_F_REQUEST, seq, r.body);
        types[n] = r.type;
        flags[n] = r.flags;
        n++;
        next = source.next();
      }
      count += n;
      const bytes = w.view_();
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      view.setUint16(lastAt + 6, view.getUint16(lastAt + 6, true) | NLM_F_ACK, true);
      const last = seq;
      const reported = new Set<number>();
      barriers.push(
        new Promise<void>((resolve) => {
          const p: Pending = {
            first,
            last,
            onMessage: (m) => {
              if (m.body.kind !== "error") return;
              const offset = (m.seq - first) >>> 0;
              if (m.body.error.error !== 0) {
                reported.add(offset);
                onError(chunkStart + offset, m.body.error);
              }
              if (m.seq === last) {
                this.remove(p);
                resolve();
              }
            },
            onFailure: (errno) => {
              // Outcome unknown for everything the kernel did not answer about.
              for (let i = 0; i < n; i++) {
                if (!reported.has(i))
                  onError(chunkStart + i, syntheticError(errno, types[i] as number, flags[i] as number));
              }
              resolve();
            },
          };
          this.add(p);
        }),
      );
      await inFlight;
      inFlight = this.sendAll(bytes).then((sent) => {
        if (sent < 0) this.failPending(first, -sent);
      });
    }
    await inFlight;
    await Promise.all(barriers);
    return count;
  }

  private failPending(seq: number, errno: number): void {
    const p = this.pending.find((x) => inRange(seq, x.first, x.last));
    if (p !== undefined) {
      this.remove(p);
      p.onFailure(errno);
    }
  }

  /** One request with an ACK; resolves with the replies before the ACK, or the kernel's error. */
  async request(request: Request): Promise<{ readonly replies: Message[]; readonly error?: ErrorMessage }> {
    const seq = this.nextSeq();
    const replies: Message[] = [];
    const w = new Writer(1024);
    encodeRequest(w, request.type, request.flags | NLM_F_REQUEST | NLM_F_ACK, seq, request.body);
    const done = new Promise<{ replies: Message[]; error?: ErrorMessage }>((resolve) => {
      const p: Pending = {
        first: seq,
        last: seq,
        onMessage: (m) => {
          if (m.body.kind !== "error") {
            replies.push(m);
            return;
          }
          this.remove(p);
          resolve(m.body.error.error === 0 ? { replies } : { replies, error: m.body.error });
        },
        onFailure: (errno) => resolve({ replies, error: syntheticError(errno, request.type, request.flags) }),
      };
      this.add(p);
    });
    const sent = await this.sendAll(w.finish());
    if (sent < 0) this.failPending(seq, -sent);
    return done;
  }

  /**
   * A dump (NLM_F_DUMP); messages until NLMSG_DONE. Dumps on one socket take turns:
   * Linux runs one at a time per socket and refuses another with EBUSY until the
   * first has been read to its end.
   */
  dump(request: Request): Promise<DumpResult> {
    const turn = this.dumping.then(() => this.dumpNow(request));
    this.dumping = turn.catch(() => undefined);
    return turn;
  }

  private async dumpNow(request: Request): Promise<DumpResult> {
    const seq = this.nextSeq();
    const messages: Message[] = [];
    let interrupted = false;
    const w = new Writer(1024);
    encodeRequest(w, request.type, request.flags | NLM_F_REQUEST | NLM_F_DUMP, seq, request.body);
    const done = new Promise<DumpResult>((resolve) => {
      const p: Pending = {
        first: seq,
        last: seq,
        onMessage: (m) => {
          if ((m.flags & NLM_F_DUMP_INTR) !== 0) interrupted = true;
          const body = m.body;
          if (body.kind === "done") {
            this.remove(p);
            resolve(
              body.error === 0
                ? { messages, interrupted }
                : {
                    messages,
                    interrupted,
                    error: {
                      error: body.error,
                      request: { length: 16, type: request.type, flags: 0, seq, pid: 0 },
                    },
                  },
            );
          } else if (body.kind === "error") {
            this.remove(p);
            resolve(
              body.error.error === 0
                ? { messages, interrupted }
                : { messages, interrupted, error: body.error },
            );
          } else if ((m.flags & NLM_F_MULTI) !== 0 || body.kind !== "other") {
            messages.push(m);
          }
        },
        onFailure: (errno) =>
          resolve({ messages, interrupted: true, error: syntheticError(errno, request.type, request.flags) }),
      };
      this.add(p);
    });
    const sent = await this.sendAll(w.finish());
    if (sent < 0) this.failPending(seq, -sent);
    return done;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watcher.stop();
    this.failAll(ffi.EBADF);
    ffi.close(this.fd);
  }
}

function inRange(seq: number, first: number, last: number): boolean {
  return (seq - first) >>> 0 <= (last - first) >>> 0;
}

function syntheticError(errno: number, type: number, flags: number): ErrorMessage {
  return {
    error: -errno,
    request: { length: 16, type, flags, seq: 0, pid: 0 },
    extackMessage: `netlink: ${ffi.errnoName(errno)} before the kernel answered; outcome unknown`,
  };
}
