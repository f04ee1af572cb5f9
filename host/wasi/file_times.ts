/**
 * `fd_filestat_set_times` / `path_filestat_set_times` and the times `*_filestat_get` report.
 * Which times to set comes from the guest's `fstflags`. They are set to the nanosecond
 * through libc where that is available (precise_times.ts); otherwise through Deno's APIs,
 * which set both times at once in milliseconds, so a time the guest leaves alone is written
 * back from a fresh stat.
 */
import { lutimesSync } from "node:fs";
import { Errno, FstFlags } from "./constants.ts";
import { fail } from "./errno.ts";
import { preciseTimes, setPreciseTimes, type TimeToSet } from "./precise_times.ts";
import type { Filestat } from "./records.ts";

const KNOWN_FLAGS = FstFlags.ATIM | FstFlags.ATIM_NOW | FstFlags.MTIM | FstFlags.MTIM_NOW;

/** The access and modification times a guest asked for. */
export interface RequestedTimes {
  atime: TimeToSet;
  mtime: TimeToSet;
}

/** The times `fstFlags` asks for (EINVAL for a contradiction), or null when it asks for none. */
export function requestedTimes(
  atim: bigint,
  mtim: bigint,
  fstFlags: number,
): RequestedTimes | null {
  const flags = fstFlags >>> 0;
  if (flags & ~KNOWN_FLAGS) fail(Errno.INVAL);
  if ((flags & FstFlags.ATIM) && (flags & FstFlags.ATIM_NOW)) fail(Errno.INVAL);
  if ((flags & FstFlags.MTIM) && (flags & FstFlags.MTIM_NOW)) fail(Errno.INVAL);
  if (flags === 0) return null;
  const pick = (value: bigint, set: number, setNow: number): TimeToSet =>
    flags & set ? BigInt.asUintN(64, value) : flags & setNow ? "now" : "keep";
  return {
    atime: pick(atim, FstFlags.ATIM, FstFlags.ATIM_NOW),
    mtime: pick(mtim, FstFlags.MTIM, FstFlags.MTIM_NOW),
  };
}

/**
 * Sets the times of `path`: of a final symlink itself unless `follow` (the sandbox has already
 * resolved every link a guest's lookup follows; a preopen's own root may still be one).
 */
export function setPathTimes(path: string, times: RequestedTimes, follow = false): void {
  if (setPreciseTimes(path, follow, times.atime, times.mtime)) return;
  const info = follow ? Deno.statSync(path) : Deno.lstatSync(path);
  const [atime, mtime] = datesOf(times, info);
  if (info.isSymlink) lutimesSync(path, atime, mtime);
  else Deno.utimeSync(path, atime, mtime);
}

/**
 * Sets the times of an open file. The precise way goes by the path it was opened under, so
 * only while that path still names the same file (it may have been renamed or replaced).
 */
export function setFileTimes(file: Deno.FsFile, openedAs: string, times: RequestedTimes): void {
  const info = file.statSync();
  if (samePathFile(openedAs, info) && setPreciseTimes(openedAs, false, times.atime, times.mtime)) {
    return;
  }
  file.utimeSync(...datesOf(times, info));
}

/** `stat` with the times of `path` to the nanosecond where they can be read for that file. */
export function withExactTimes(stat: Filestat, path: string, follow = false): Filestat {
  const exact = preciseTimes(path, follow);
  if (exact === null || exact.ino !== stat.ino) return stat;
  return { ...stat, atim: exact.atim, mtim: exact.mtim, ctim: exact.ctim };
}

function samePathFile(path: string, info: Deno.FileInfo): boolean {
  const exact = preciseTimes(path, false);
  return exact !== null && info.ino !== null && exact.ino === BigInt(info.ino);
}

function datesOf(times: RequestedTimes, current: Deno.FileInfo): [Date, Date] {
  const now = new Date();
  const date = (time: TimeToSet, kept: Date | null) =>
    time === "now" ? now : time === "keep" ? kept ?? now : new Date(Number(time / 1_000_000n));
  return [date(times.atime, current.atime), date(times.mtime, current.mtime)];
}
