/**
 * `fd_filestat_set_times` / `path_filestat_set_times`: which timestamps to set, from the
 * guest's `fstflags`. Deno sets both times at once with millisecond precision, so a time the
 * guest leaves alone is written back from a fresh stat.
 */
import { Errno, FstFlags } from "./constants.ts";
import { fail } from "./errno.ts";

const KNOWN_FLAGS = FstFlags.ATIM | FstFlags.ATIM_NOW | FstFlags.MTIM | FstFlags.MTIM_NOW;

/** The access and modification times to apply, or null when `fstFlags` asks for neither. */
export function timesToSet(
  atim: bigint,
  mtim: bigint,
  fstFlags: number,
  current: () => Deno.FileInfo,
): [Date, Date] | null {
  const flags = fstFlags >>> 0;
  if (flags & ~KNOWN_FLAGS) fail(Errno.INVAL);
  if ((flags & FstFlags.ATIM) && (flags & FstFlags.ATIM_NOW)) fail(Errno.INVAL);
  if ((flags & FstFlags.MTIM) && (flags & FstFlags.MTIM_NOW)) fail(Errno.INVAL);
  if (flags === 0) return null;

  const now = new Date();
  let info: Deno.FileInfo | null = null;
  const pick = (value: bigint, set: number, setNow: number, kept: "atime" | "mtime") => {
    if (flags & set) return dateFromNanos(value);
    if (flags & setNow) return now;
    info ??= current();
    return info[kept] ?? now;
  };
  return [
    pick(atim, FstFlags.ATIM, FstFlags.ATIM_NOW, "atime"),
    pick(mtim, FstFlags.MTIM, FstFlags.MTIM_NOW, "mtime"),
  ];
}

function dateFromNanos(ns: bigint): Date {
  return new Date(Number(BigInt.asUintN(64, ns) / 1_000_000n));
}
