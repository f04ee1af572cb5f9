/**
 * `args_*` and `environ_*`: a list of NUL-terminated strings, copied into a guest buffer with
 * a table of pointers to each string.
 */
import type { GuestMemory } from "../../runtime/guest_memory.ts";
import { Errno, type ErrnoCode } from "./constants.ts";

/** Writes the number of strings and their total size (NULs included). */
export function writeStringListSizes(
  memory: GuestMemory,
  list: readonly Uint8Array[],
  countOut: number,
  bufSizeOut: number,
): ErrnoCode {
  const bufSize = list.reduce((sum, entry) => sum + entry.byteLength, 0);
  memory.writeU32(countOut, list.length);
  memory.writeU32(bufSizeOut, bufSize);
  return Errno.SUCCESS;
}

/** Copies the strings to `bufPtr`, one after another, and their addresses to `pointersPtr`. */
export function writeStringList(
  memory: GuestMemory,
  list: readonly Uint8Array[],
  pointersPtr: number,
  bufPtr: number,
): ErrnoCode {
  let at = bufPtr >>> 0;
  list.forEach((entry, i) => {
    memory.write(at, entry);
    memory.writeU32((pointersPtr >>> 0) + 4 * i, at);
    at += entry.byteLength;
  });
  return Errno.SUCCESS;
}
