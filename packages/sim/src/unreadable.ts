/**
 * Why a file named on the command line cannot be read, naming it: Node's own message
 * names the path for a failed open only, and a directory fails at the first read
 * ("EISDIR: illegal operation on a directory, read"), which named nothing.
 */
import { constants as osConstants } from "node:os";
import { getSystemErrorMessage } from "node:util";

/** `what` says which argument the file is (`LOG`, `ROUTES.yaml`); `code` is the system error's (ENOENT). */
export function unreadable(what: string, path: string, code: string): string {
  const errno = (osConstants.errno as Record<string, number | undefined>)[code];
  const reason = errno === undefined ? code : `${getSystemErrorMessage(-errno)} (${code})`;
  return `cannot read ${what} ${JSON.stringify(path)}: ${reason}`;
}

/** The system error code of `error` (ENOENT, EISDIR), when it is a system error. */
export function systemErrorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}
