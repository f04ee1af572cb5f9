/**
 * How WASI calls fail: helpers throw {@link WasiError} (or let a Deno filesystem error escape),
 * and {@link withErrno} turns either into the errno the guest receives. Anything else, such as
 * a trap from an out-of-bounds guest pointer, keeps unwinding and ends the process.
 */
import { Errno, type ErrnoCode } from "./constants.ts";

/** A WASI call failed with `errno`; caught at the host-function boundary. */
export class WasiError extends Error {
  override name = "WasiError";
  constructor(readonly errno: ErrnoCode, message = `errno ${errno}`) {
    super(message);
  }
}

/** Throws a {@link WasiError}. */
export function fail(errno: ErrnoCode, message?: string): never {
  throw new WasiError(errno, message);
}

/** POSIX error names, as Deno reports them in `err.code`, mapped to WASI errnos. */
const ERRNO_BY_CODE: Readonly<Record<string, ErrnoCode>> = {
  E2BIG: Errno.TOOBIG,
  EACCES: Errno.ACCES,
  EADDRINUSE: Errno.ADDRINUSE,
  EADDRNOTAVAIL: Errno.ADDRNOTAVAIL,
  EAGAIN: Errno.AGAIN,
  EWOULDBLOCK: Errno.AGAIN,
  EBADF: Errno.BADF,
  EBUSY: Errno.BUSY,
  ECONNREFUSED: Errno.CONNREFUSED,
  ECONNRESET: Errno.CONNRESET,
  EEXIST: Errno.EXIST,
  EFAULT: Errno.FAULT,
  EFBIG: Errno.FBIG,
  EILSEQ: Errno.ILSEQ,
  EINTR: Errno.INTR,
  EINVAL: Errno.INVAL,
  EIO: Errno.IO,
  EISDIR: Errno.ISDIR,
  ELOOP: Errno.LOOP,
  EMFILE: Errno.MFILE,
  EMLINK: Errno.MLINK,
  ENAMETOOLONG: Errno.NAMETOOLONG,
  ENFILE: Errno.NFILE,
  ENOENT: Errno.NOENT,
  ENOMEM: Errno.NOMEM,
  ENOSPC: Errno.NOSPC,
  ENOSYS: Errno.NOSYS,
  ENOTCONN: Errno.NOTCONN,
  ENOTDIR: Errno.NOTDIR,
  ENOTEMPTY: Errno.NOTEMPTY,
  ENOTSUP: Errno.NOTSUP,
  EOPNOTSUPP: Errno.NOTSUP,
  ENOTTY: Errno.NOTTY,
  ENXIO: Errno.NXIO,
  EOVERFLOW: Errno.OVERFLOW,
  EPERM: Errno.PERM,
  EPIPE: Errno.PIPE,
  ERANGE: Errno.RANGE,
  EROFS: Errno.ROFS,
  ESPIPE: Errno.SPIPE,
  ETIMEDOUT: Errno.TIMEDOUT,
  ETXTBSY: Errno.TXTBSY,
  EXDEV: Errno.XDEV,
};

/** Deno's error classes, for errors that carry no `code`. */
const ERRNO_BY_CLASS: ReadonlyArray<[new (...args: never[]) => Error, ErrnoCode]> = [
  [Deno.errors.NotFound, Errno.NOENT],
  [Deno.errors.AlreadyExists, Errno.EXIST],
  [Deno.errors.PermissionDenied, Errno.ACCES],
  [Deno.errors.NotCapable, Errno.ACCES],
  [Deno.errors.IsADirectory, Errno.ISDIR],
  [Deno.errors.NotADirectory, Errno.NOTDIR],
  [Deno.errors.FilesystemLoop, Errno.LOOP],
  [Deno.errors.InvalidData, Errno.INVAL],
  [Deno.errors.BrokenPipe, Errno.PIPE],
  [Deno.errors.Busy, Errno.BUSY],
  [Deno.errors.TimedOut, Errno.TIMEDOUT],
  [Deno.errors.Interrupted, Errno.INTR],
  [Deno.errors.WouldBlock, Errno.AGAIN],
  [Deno.errors.WriteZero, Errno.IO],
  [Deno.errors.UnexpectedEof, Errno.IO],
  [Deno.errors.NotSupported, Errno.NOTSUP],
];

/**
 * The errno for an error thrown by a WASI helper or by a Deno filesystem call, or null when
 * the error is neither (a trap, a process exit, a bug) and must keep unwinding.
 */
export function errnoFromError(error: unknown): ErrnoCode | null {
  if (error instanceof WasiError) return error.errno;
  if (!(error instanceof Error)) return null;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code in ERRNO_BY_CODE) return ERRNO_BY_CODE[code];
  for (const [errorClass, errno] of ERRNO_BY_CLASS) {
    if (error instanceof errorClass) return errno;
  }
  // Any other Deno I/O error is still an I/O failure the guest should see as such.
  if (error.constructor.name in Deno.errors) return Errno.IO;
  return null;
}

/** The errno for `error`; rethrows anything that is not a WASI or filesystem failure. */
export function errnoOrRethrow(error: unknown): ErrnoCode {
  const errno = errnoFromError(error);
  if (errno === null) throw error;
  return errno;
}

/** Runs one WASI call: 0 when `body` returns, the errno when it fails with one. */
export function withErrno(body: () => void): ErrnoCode {
  try {
    body();
    return Errno.SUCCESS;
  } catch (error) {
    return errnoOrRethrow(error);
  }
}
