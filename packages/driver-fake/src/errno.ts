/**
 * Kernel refusals as values, with Linux's errno numbers and strerror texts. Where
 * the kernel attaches an extack message, callers pass it and it replaces strerror,
 * as a netlink client shows it (without iproute2's trailing period).
 */
import type { OpResult } from "@kroute/core";

const ERRNOS = {
  EPERM: [1, "Operation not permitted"],
  ENOENT: [2, "No such file or directory"],
  ESRCH: [3, "No such process"],
  EINTR: [4, "Interrupted system call"],
  EIO: [5, "Input/output error"],
  EAGAIN: [11, "Resource temporarily unavailable"],
  ENOMEM: [12, "Cannot allocate memory"],
  EACCES: [13, "Permission denied"],
  EBUSY: [16, "Device or resource busy"],
  EEXIST: [17, "File exists"],
  ENODEV: [19, "No such device"],
  EINVAL: [22, "Invalid argument"],
  ENOSPC: [28, "No space left on device"],
  ERANGE: [34, "Numerical result out of range"],
  EMSGSIZE: [90, "Message too long"],
  EOPNOTSUPP: [95, "Operation not supported"],
  ENETDOWN: [100, "Network is down"],
  ENETUNREACH: [101, "Network is unreachable"],
  ENOBUFS: [105, "No buffer space available"],
  ETIMEDOUT: [110, "Connection timed out"],
  EHOSTUNREACH: [113, "No route to host"],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrnoCode = keyof typeof ERRNOS;

export interface KernelError {
  readonly ok: false;
  readonly errno: number;
  readonly code: string;
  readonly message: string;
}

export function kernelError(code: ErrnoCode, extack?: string): KernelError {
  const [errno, text] = ERRNOS[code];
  return { ok: false, errno, code, message: extack ?? text };
}

/** Resolves an errno given as a number or a name; throws on one this fake does not know. */
export function errnoCode(errno: number | string): ErrnoCode {
  for (const [code, [number]] of Object.entries(ERRNOS)) {
    if (code === errno || number === errno) return code as ErrnoCode;
  }
  throw new Error(`unknown errno: ${JSON.stringify(errno)} (known: ${Object.keys(ERRNOS).join(", ")})`);
}

export const OK: OpResult = { ok: true };
