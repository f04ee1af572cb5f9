/**
 * What every networking call shares: suspending the caller on an operation with a deadline
 * (spec §0.6), and error texts as Rust's `io::Error` prints them, which is what lunatic's
 * error IDs hold (`Connection refused (os error 111)`).
 */
import { ProcessKilled } from "../../runtime/errors.ts";
import type { Process } from "../../runtime/process.ts";
import { after, guestTimeout } from "../../runtime/timers.ts";
import { errorId } from "../error.ts";
import type { SocketAddress } from "./addresses.ts";
import { addressIterator } from "./resources.ts";

/** What a deadline ends with instead of a value. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Suspends `process` until `operation` settles, or until `timeout` (a guest u64 of
 * milliseconds; u64::MAX: none) passes. An operation that is already settled wins over a
 * deadline of 0 (tokio polls it once first). `onLate` gets a value that comes after the
 * deadline (a connection made too late must be closed).
 */
export async function withDeadline<T>(
  process: Process,
  operation: Promise<T>,
  timeout: bigint,
  onLate?: (value: T) => void,
): Promise<T | typeof TIMED_OUT> {
  const ms = guestTimeout(timeout);
  if (ms === null) return await process.suspend(operation);
  let cancel = () => {};
  let timedOut = false;
  const deadline = new Promise<typeof TIMED_OUT>((resolve) => {
    cancel = after(ms, () => {
      timedOut = true;
      resolve(TIMED_OUT);
    });
  });
  operation.then((value) => {
    if (timedOut) onLate?.(value);
  }, () => {/* reported through the race, or nobody waits any more */});
  try {
    return await process.suspend(Promise.race([operation, deadline]), cancel);
  } finally {
    cancel();
  }
}

/** Linux's errno names, numbers and texts, for errors that come without an OS message. */
const ERRNO: Record<string, [number, string]> = {
  EPERM: [1, "Operation not permitted"],
  ENOENT: [2, "No such file or directory"],
  EINTR: [4, "Interrupted system call"],
  EBADF: [9, "Bad file descriptor"],
  EAGAIN: [11, "Resource temporarily unavailable"],
  EACCES: [13, "Permission denied"],
  EINVAL: [22, "Invalid argument"],
  EPIPE: [32, "Broken pipe"],
  EDESTADDRREQ: [89, "Destination address required"],
  EMSGSIZE: [90, "Message too long"],
  EPROTONOSUPPORT: [93, "Protocol not supported"],
  EAFNOSUPPORT: [97, "Address family not supported by protocol"],
  EADDRINUSE: [98, "Address already in use"],
  EADDRNOTAVAIL: [99, "Cannot assign requested address"],
  ENETDOWN: [100, "Network is down"],
  ENETUNREACH: [101, "Network is unreachable"],
  ECONNABORTED: [103, "Software caused connection abort"],
  ECONNRESET: [104, "Connection reset by peer"],
  EISCONN: [106, "Transport endpoint is already connected"],
  ENOTCONN: [107, "Transport endpoint is not connected"],
  ETIMEDOUT: [110, "Connection timed out"],
  ECONNREFUSED: [111, "Connection refused"],
  EHOSTUNREACH: [113, "No route to host"],
};

/** An error's text as `io::Error` prints it. */
export function ioErrorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Deno's errors already read like Rust's (they are Rust's).
  if (/\(os error \d+\)$/.test(error.message)) return error.message;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && ERRNO[code] !== undefined) {
    const [number, text] = ERRNO[code];
    return `${text} (os error ${number})`;
  }
  return error.message;
}

/**
 * Writes an error ID for `error` at `ptr` and returns 1 (the error convention, spec §0.5).
 */
export function reportError(process: Process, ptr: number, error: unknown): number {
  process.memory.writeU64(ptr, errorId(process, ioErrorText(error)));
  return 1;
}

/** Whether `error` is the caller being killed, which must unwind it, not become an error ID. */
export function isUnwinding(error: unknown): boolean {
  return error instanceof ProcessKilled;
}

/**
 * `*_local_addr`, `*_peer_addr`: writes a one-address DNS iterator's ID for `address()` at
 * `idPtr` and returns 0; when it throws (a socket that is not connected), an error ID and 1.
 */
export function writeAddress(
  process: Process,
  idPtr: number,
  address: () => SocketAddress,
): number {
  process.memory.check(idPtr, 8);
  try {
    process.memory.writeU64(idPtr, addressIterator(process, address()));
  } catch (error) {
    return reportError(process, idPtr, error);
  }
  return 0;
}
