/**
 * The only module that touches koffi: the few libc calls kroute needs for netlink
 * and ICMP sockets, for entering network namespaces, and for handing freed memory
 * back to the kernel.
 *
 * Conventions: every wrapper returns the kernel style result, a non-negative value on
 * success and `-errno` on failure, so callers never pay for an exception on the hot
 * path (EAGAIN on a non-blocking recv is routine). `errnoName`/`strerror` turn an
 * errno into words. Sockets are created non-blocking; readiness comes from libuv
 * (`watchReadable`), and the one call that can run long in the kernel (sending a big
 * netlink batch: the kernel processes it inside sendmsg) has an async variant that
 * runs on koffi's worker pool, so the JS event loop keeps turning.
 */
import { constants as osConstants } from "node:os";
import koffi from "koffi";

const libc = koffi.load("libc.so.6");

const c = {
  socket: libc.func("int socket(int domain, int type, int protocol)"),
  bind: libc.func("int bind(int fd, const void *addr, uint32_t len)"),
  connect: libc.func("int connect(int fd, const void *addr, uint32_t len)"),
  getsockname: libc.func("int getsockname(int fd, _Out_ void *addr, _Inout_ uint32_t *len)"),
  setsockopt: libc.func("int setsockopt(int fd, int level, int name, const void *value, uint32_t len)"),
  getsockopt: libc.func(
    "int getsockopt(int fd, int level, int name, _Out_ void *value, _Inout_ uint32_t *len)",
  ),
  send: libc.func("intptr_t send(int fd, const void *buf, size_t len, int flags)"),
  sendto: libc.func(
    "intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)",
  ),
  recv: libc.func("intptr_t recv(int fd, _Out_ void *buf, size_t len, int flags)"),
  malloc_trim: libc.func("int malloc_trim(size_t pad)"),
  recvfrom: libc.func(
    "intptr_t recvfrom(int fd, _Out_ void *buf, size_t len, int flags, _Out_ void *addr, _Inout_ uint32_t *alen)",
  ),
  close: libc.func("int close(int fd)"),
  open: libc.func("int open(const char *path, int flags, ...)"),
  read: libc.func("intptr_t read(int fd, _Out_ void *buf, size_t len)"),
  write: libc.func("intptr_t write(int fd, const void *buf, size_t len)"),
  setns: libc.func("int setns(int fd, int nstype)"),
  ioctl: libc.func("int ioctl(int fd, unsigned long request, _Inout_ void *arg)"),
  strerror: libc.func("const char *strerror(int errnum)"),
};

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_ICMP = 1;
export const IPPROTO_ICMPV6 = 58;
export const NETLINK_ROUTE = 0;
export const SOL_SOCKET = 1;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_RCVTIMEO = 20;
export const SO_SNDBUFFORCE = 32;
export const SO_BINDTOIFINDEX = 62;
export const SO_RCVBUFFORCE = 33;
export const SOL_IP = 0;
export const SOL_IPV6 = 41;
export const IP_TTL = 2;
export const IPV6_UNICAST_HOPS = 16;
export const SOL_NETLINK = 270;
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_NO_ENOBUFS = 5;
export const NETLINK_CAP_ACK = 10;
export const NETLINK_EXT_ACK = 11;
export const NETLINK_GET_STRICT_CHK = 12;
export const MSG_DONTROUTE = 0x4;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_PEEK = 0x2;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_CLOEXEC = 0o2000000;
export const CLONE_NEWNET = 0x40000000;

export const EAGAIN = 11;
export const EINTR = 4;
export const ENOBUFS = 105;
export const EBADF = 9;
export const EPROTO = 71;
export const ENODEV = 19;
export const ENOENT = 2;
export const EEXIST = 17;
export const EBUSY = 16;
export const EINVAL = 22;
export const EOPNOTSUPP = 95;

// The first name wins where two share a number (EAGAIN before EWOULDBLOCK).
const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(osConstants.errno)) {
  if (!errnoNames.has(value)) errnoNames.set(value, name);
}

/** `ENOENT` for 2; `E<n>` for numbers Node does not name. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** libc's message for an errno ("No such file or directory"). */
export function strerror(errno: number): string {
  return String(c.strerror(errno));
}

function result(value: number | bigint): number {
  const n = Number(value);
  return n < 0 ? -koffi.errno() : n;
}

export function socket(domain: number, type: number, protocol: number): number {
  return result(c.socket(domain, type | SOCK_CLOEXEC, protocol));
}

export function bind(fd: number, address: Uint8Array): number {
  return result(c.bind(fd, address, address.byteLength));
}

export function connect(fd: number, address: Uint8Array): number {
  return result(c.connect(fd, address, address.byteLength));
}

/** Fills `address` (a sockaddr buffer) with the socket's own address; its length, or `-errno`. */
export function getsockname(fd: number, address: Uint8Array): number {
  const length = [address.byteLength];
  const rc = result(c.getsockname(fd, address, length));
  return rc < 0 ? rc : (length[0] ?? 0);
}

export function setsockoptInt(fd: number, level: number, name: number, value: number): number {
  const buffer = new Int32Array([value]);
  return result(c.setsockopt(fd, level, name, buffer, 4));
}

export function setsockoptBytes(fd: number, level: number, name: number, value: Uint8Array): number {
  return result(c.setsockopt(fd, level, name, value, value.byteLength));
}

/** An int socket option, or `-errno`. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  const buffer = new Int32Array(1);
  const length = [4];
  const rc = result(c.getsockopt(fd, level, name, buffer, length));
  return rc < 0 ? rc : (buffer[0] ?? 0);
}

export function send(fd: number, data: Uint8Array, flags = 0): number {
  return result(c.send(fd, data, data.byteLength, flags));
}

/**
 * send() on a koffi worker thread. The kernel handles a netlink request inside
 * sendmsg, so a batch of thousands of routes holds the calling thread for
 * milliseconds: never the JS thread. `data` must stay untouched until it settles.
 */
export function sendAsync(fd: number, data: Uint8Array, flags = 0): Promise<number> {
  return new Promise((resolve) => {
    c.send.async(fd, data, data.byteLength, flags, (error: unknown, value: number | bigint) => {
      resolve(error ? -(koffi.errno() || 5) : result(value));
    });
  });
}

export function sendto(fd: number, data: Uint8Array, address: Uint8Array, flags = 0): number {
  return result(c.sendto(fd, data, data.byteLength, flags, address, address.byteLength));
}

/** Bytes received into `buffer` (with MSG_TRUNC: the full datagram length), or `-errno`. */
export function recv(fd: number, buffer: Uint8Array, flags = MSG_DONTWAIT): number {
  return result(c.recv(fd, buffer, buffer.byteLength, flags));
}

/** Like recv, also filling `address` (a sockaddr buffer); the address length is returned beside. */
export function recvfrom(
  fd: number,
  buffer: Uint8Array,
  address: Uint8Array,
  flags = MSG_DONTWAIT,
): { readonly bytes: number; readonly addressLength: number } {
  const length = [address.byteLength];
  const bytes = result(c.recvfrom(fd, buffer, buffer.byteLength, flags, address, length));
  return { bytes, addressLength: length[0] ?? 0 };
}

const SIOCGIFINDEX = 0x8933;
const IFNAMSIZ = 16;

/**
 * The index of device `name` in the network namespace of socket `fd` (SIOCGIFINDEX), or
 * `-errno` (ENODEV: no such device there). Asking through a socket already in the
 * namespace spares a setns per lookup.
 */
export function deviceIndex(fd: number, name: string): number {
  const encoded = new TextEncoder().encode(name);
  if (encoded.length >= IFNAMSIZ) return -ENODEV;
  const ifreq = new Uint8Array(40); // struct ifreq: ifr_name[16], then ifr_ifindex
  ifreq.set(encoded);
  const rc = result(c.ioctl(fd, SIOCGIFINDEX, ifreq));
  return rc < 0 ? rc : new DataView(ifreq.buffer).getInt32(IFNAMSIZ, true);
}

export function close(fd: number): number {
  return result(c.close(fd));
}

export function open(path: string, flags: number): number {
  return result(c.open(path, flags | O_CLOEXEC));
}

export function read(fd: number, buffer: Uint8Array): number {
  return result(c.read(fd, buffer, buffer.byteLength));
}

export function write(fd: number, data: Uint8Array): number {
  return result(c.write(fd, data, data.byteLength));
}

export class SyscallError extends Error {
  readonly errno: number;
  readonly code: string;
  constructor(call: string, errno: number) {
    super(`${call}: ${errnoName(errno)} (${strerror(errno)})`);
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

/**
 * Returns the C heap's free pages to the kernel. glibc keeps memory freed in the middle
 * of its heaps (and raises its mmap threshold after a large free), so the garbage of a
 * burst of work (V8's compiler zones on its worker threads, big buffers) stays resident
 * for the life of the process without this.
 */
export function releaseFreeMemory(): void {
  c.malloc_trim(0);
}

/** Throws a SyscallError naming `call` when `rc` is `-errno`; returns it otherwise. */
export function check(call: string, rc: number): number {
  if (rc < 0) throw new SyscallError(call, -rc);
  return rc;
}

/**
 * Runs `body` with the calling (JS main) thread inside the named network namespace
 * (/var/run/netns/NAME), then switches straight back. setns changes only the calling
 * thread; `body` must be synchronous so no other JS runs meanwhile. Sockets created
 * inside stay bound to that namespace for life, and /proc/sys/net opened inside
 * shows that namespace's sysctls.
 */
export function inNetns<T>(name: string | undefined, body: () => T): T {
  if (name === undefined) return body();
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || name === "." || name === "..") {
    throw new Error(`netns: invalid namespace name ${JSON.stringify(name)}`);
  }
  const target = check(`open /var/run/netns/${name}`, open(`/var/run/netns/${name}`, O_RDONLY));
  let home = -1;
  try {
    home = check("open /proc/thread-self/ns/net", open("/proc/thread-self/ns/net", O_RDONLY));
    check(`setns ${name}`, result(c.setns(target, CLONE_NEWNET)));
    try {
      return body();
    } finally {
      // Failing to return home would leave the JS thread in the wrong namespace: fatal.
      const back = result(c.setns(home, CLONE_NEWNET));
      if (back < 0) {
        process.emitWarning(`setns back to the original namespace failed: ${errnoName(-back)}`);
        process.abort();
      }
    }
  } finally {
    close(target);
    if (home >= 0) close(home);
  }
}

export interface ReadableWatch {
  stop(): void;
}

/**
 * Calls `onReadable` (on the JS thread) whenever `fd` has data or a pending error,
 * until stopped. A socket error (a netlink ENOBUFS overflow) shows as POLLERR, on
 * which libuv stops the poll handle: it is restarted here, since the error is
 * something the reader must see (recv returns it once) and data may follow.
 */
export function watchReadable(fd: number, onReadable: () => void): ReadableWatch {
  let stopped = false;
  const callback = (events: { readable: boolean; disconnect: boolean }): void => {
    onReadable();
    if (!events.readable && !events.disconnect && !stopped) handle.start({ readable: true }, callback);
  };
  const handle = koffi.node.poll(fd, { readable: true }, callback);
  return {
    stop() {
      stopped = true;
      handle.stop();
      handle.close();
    },
  };
}
