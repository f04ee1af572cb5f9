/**
 * File times to the nanosecond. Deno's file APIs carry times as `Date`s (milliseconds) and
 * take new ones as seconds in a double (~400 ns steps today), so a guest that sets a time
 * and reads it back would see another one. On Linux, with the FFI permission (`deno task run`
 * and the compiled binary have it), this reads and sets them through libc's `statx` and
 * `utimensat`, whose layouts are the same on every Linux architecture; elsewhere, or without
 * the permission, callers fall back to Deno's millisecond APIs (`precise()` is null).
 */

/** Times in nanoseconds since the epoch, and the inode they belong to. */
export interface PreciseTimes {
  ino: bigint;
  atim: bigint;
  mtim: bigint;
  ctim: bigint;
}

/** A time to set: nanoseconds, the present, or the one the file has. */
export type TimeToSet = bigint | "now" | "keep";

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const STATX_BASIC_STATS = 0x7ff;
const STATX_SIZE = 256;
/** `tv_nsec` values of `utimensat` meaning "now" and "leave it". */
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;

const SYMBOLS = {
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null | undefined;

/** libc's two functions, or null where they cannot be had (not Linux, no FFI permission). */
function precise(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux") return null;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    // Another libc (musl names itself differently), or FFI unavailable: milliseconds it is.
  }
  return libc;
}

const encoder = new TextEncoder();

function cString(path: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${path}\0`);
}

/** The times of `path` (of a final symlink itself unless `follow`), or null if unavailable. */
export function preciseTimes(path: string, follow: boolean): PreciseTimes | null {
  const lib = precise();
  if (lib === null) return null;
  const buffer = new Uint8Array(STATX_SIZE);
  const flags = follow ? 0 : AT_SYMLINK_NOFOLLOW;
  if (lib.statx(AT_FDCWD, cString(path), flags, STATX_BASIC_STATS, buffer) !== 0) return null;
  const view = new DataView(buffer.buffer);
  const at = (offset: number) =>
    view.getBigInt64(offset, true) * 1_000_000_000n + BigInt(view.getUint32(offset + 8, true));
  return { ino: view.getBigUint64(32, true), atim: at(64), ctim: at(96), mtim: at(112) };
}

/**
 * Sets the times of `path` (of a final symlink itself unless `follow`). False when that
 * cannot be done this way: the caller falls back to Deno's APIs, which report any error.
 */
export function setPreciseTimes(
  path: string,
  follow: boolean,
  atime: TimeToSet,
  mtime: TimeToSet,
): boolean {
  const lib = precise();
  if (lib === null) return false;
  const times = new BigInt64Array(4);
  const put = (index: number, time: TimeToSet) => {
    if (time === "now") times[index + 1] = BigInt(UTIME_NOW);
    else if (time === "keep") times[index + 1] = BigInt(UTIME_OMIT);
    else {
      times[index] = time / 1_000_000_000n;
      times[index + 1] = time % 1_000_000_000n;
    }
  };
  put(0, atime);
  put(2, mtime);
  const flags = follow ? 0 : AT_SYMLINK_NOFOLLOW;
  return lib.utimensat(AT_FDCWD, cString(path), new Uint8Array(times.buffer), flags) === 0;
}
