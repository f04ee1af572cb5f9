/**
 * Reading, writing and seeking: `fd_read`, `fd_pread`, `fd_write`, `fd_pwrite`, `fd_seek`,
 * `fd_tell`. Files use Deno's synchronous file API; fd 0 reads the process's (asynchronous)
 * stdin, fd 1 and 2 write to its stdout and stderr.
 *
 * APPEND is emulated (seek to the end before each write) rather than passed to the host open,
 * so `fd_fdstat_set_flags` can switch it either way; DSYNC and SYNC sync after each write.
 * Processes run one at a time on the JS thread, so the seek and the write are never
 * interleaved with another process's; only outside programs could slip in between.
 */
import type { HostContext } from "../../runtime/host_api.ts";
import { Errno, type ErrnoCode, FdFlags, Rights, Whence } from "./constants.ts";
import { errnoOrRethrow, fail, withErrno } from "./errno.ts";
import type { FileEntry, StdioEntry } from "./fd_table.ts";
import { gatherBytes, type GuestBuffer, readIovecs, scatterBytes, totalLength } from "./records.ts";
import { wasiState } from "./state.ts";

const MAX_FILE_OFFSET = (1n << 63n) - 1n;

/**
 * The most one `fd_read` asks stdin for. A read may return less than the iovecs hold, and a
 * cap keeps a guest's huge buffer from becoming an equally huge host allocation.
 */
const STDIN_READ_MAX = 65_536;

/** Fails with ENOTCAPABLE (as wasi-common does) unless `entry` holds `right`. */
export function requireRight(entry: { rightsBase: bigint }, right: bigint): void {
  if ((entry.rightsBase & right) === 0n) fail(Errno.NOTCAPABLE);
}

/** `fd_read`. Returns a Promise only when it has to wait for stdin. */
export function fdRead(
  process: HostContext,
  fd: number,
  iovsPtr: number,
  iovsLen: number,
  nreadOut: number,
): ErrnoCode | Promise<ErrnoCode> {
  let entry: FileEntry | StdioEntry;
  try {
    entry = wasiState(process).fds.stream(fd);
    if (entry.kind === "stdio" && entry.stream !== "stdin") fail(Errno.BADF);
    requireRight(entry, Rights.FD_READ);
  } catch (error) {
    return errnoOrRethrow(error);
  }
  const buffers = readIovecs(process.memory, iovsPtr, iovsLen);
  if (entry.kind === "stdio") return readStdin(process, buffers, nreadOut);
  const file = entry;
  return withErrno(() => process.memory.writeU32(nreadOut, readInto(process, file, buffers)));
}

/** Waits for stdin (through `process.suspend`, so a kill aborts the wait) and fills `buffers`. */
async function readStdin(
  process: HostContext,
  buffers: GuestBuffer[],
  nreadOut: number,
): Promise<ErrnoCode> {
  const wanted = Math.min(totalLength(buffers), STDIN_READ_MAX);
  let data: Uint8Array | null = new Uint8Array(0);
  if (wanted > 0) {
    try {
      data = await process.suspend(process.stdio.stdin.read(wanted));
    } catch (error) {
      return errnoOrRethrow(error);
    }
  }
  // null is end of input: zero bytes read.
  const count = data === null ? 0 : scatterBytes(process.memory, buffers, data);
  process.memory.writeU32(nreadOut, count);
  return Errno.SUCCESS;
}

/** Reads from the file's position into `buffers`, stopping at the first short read. */
function readInto(process: HostContext, entry: FileEntry, buffers: GuestBuffer[]): number {
  let total = 0;
  for (const buffer of buffers) {
    if (buffer.len === 0) continue;
    const count = entry.file.readSync(process.memory.bytes(buffer.ptr, buffer.len)) ?? 0;
    total += count;
    if (count < buffer.len) break;
  }
  return total;
}

export function fdPread(
  process: HostContext,
  fd: number,
  iovsPtr: number,
  iovsLen: number,
  offset: bigint,
  nreadOut: number,
): ErrnoCode {
  const memory = process.memory;
  return withErrno(() => {
    const entry = seekableFile(process, fd);
    requireRight(entry, Rights.FD_READ);
    const buffers = readIovecs(memory, iovsPtr, iovsLen);
    const count = atOffset(entry, offset, () => readInto(process, entry, buffers));
    memory.writeU32(nreadOut, count);
  });
}

/** `fd_write`: stdout and stderr go to the process's sinks, files to the host file. */
export function fdWrite(
  process: HostContext,
  fd: number,
  iovsPtr: number,
  iovsLen: number,
  nwrittenOut: number,
): ErrnoCode {
  const memory = process.memory;
  return withErrno(() => {
    const entry = wasiState(process).fds.stream(fd);
    if (entry.kind === "stdio" && entry.stream === "stdin") fail(Errno.BADF);
    requireRight(entry, Rights.FD_WRITE);
    const buffers = readIovecs(memory, iovsPtr, iovsLen);
    if (entry.kind === "stdio") {
      const bytes = gatherBytes(memory, buffers);
      if (bytes.byteLength > 0) {
        (entry.stream === "stderr" ? process.stdio.stderr : process.stdio.stdout).write(bytes);
      }
      memory.writeU32(nwrittenOut, bytes.byteLength);
      return;
    }
    if (entry.fdFlags & FdFlags.APPEND) entry.file.seekSync(0, Deno.SeekMode.End);
    memory.writeU32(nwrittenOut, writeFrom(process, entry, buffers));
  });
}

export function fdPwrite(
  process: HostContext,
  fd: number,
  iovsPtr: number,
  iovsLen: number,
  offset: bigint,
  nwrittenOut: number,
): ErrnoCode {
  const memory = process.memory;
  return withErrno(() => {
    const entry = seekableFile(process, fd);
    requireRight(entry, Rights.FD_WRITE);
    const buffers = readIovecs(memory, iovsPtr, iovsLen);
    const count = atOffset(entry, offset, () => writeFrom(process, entry, buffers));
    memory.writeU32(nwrittenOut, count);
  });
}

/** Writes every byte of `buffers` at the file's position, then honours DSYNC/SYNC. */
function writeFrom(process: HostContext, entry: FileEntry, buffers: GuestBuffer[]): number {
  let total = 0;
  for (const buffer of buffers) {
    let done = 0;
    while (done < buffer.len) {
      // Re-read the view each round: the bytes stay put, but a view must not outlive a call.
      done += entry.file.writeSync(process.memory.bytes(buffer.ptr + done, buffer.len - done));
    }
    total += done;
  }
  if (entry.fdFlags & FdFlags.SYNC) entry.file.syncSync();
  else if (entry.fdFlags & FdFlags.DSYNC) entry.file.syncDataSync();
  return total;
}

/** Runs `body` with the file positioned at `offset`, then restores the position. */
function atOffset<T>(entry: FileEntry, offset: bigint, body: () => T): T {
  const position = BigInt.asUintN(64, offset);
  if (position > MAX_FILE_OFFSET) fail(Errno.INVAL);
  const saved = entry.file.seekSync(0, Deno.SeekMode.Current);
  entry.file.seekSync(position, Deno.SeekMode.Start);
  try {
    return body();
  } finally {
    entry.file.seekSync(saved, Deno.SeekMode.Start);
  }
}

/** The file `fd` names; ESPIPE for the standard streams (they cannot seek). */
function seekableFile(process: HostContext, fd: number): FileEntry {
  const entry = wasiState(process).fds.stream(fd);
  if (entry.kind === "stdio") fail(Errno.SPIPE);
  return entry;
}

const SEEK_MODES: Readonly<Record<number, Deno.SeekMode>> = {
  [Whence.SET]: Deno.SeekMode.Start,
  [Whence.CUR]: Deno.SeekMode.Current,
  [Whence.END]: Deno.SeekMode.End,
};

export function fdSeek(
  process: HostContext,
  fd: number,
  offset: bigint,
  whence: number,
  newOffsetOut: number,
): ErrnoCode {
  return withErrno(() => {
    const entry = seekableFile(process, fd);
    const mode = SEEK_MODES[whence >>> 0];
    if (mode === undefined) fail(Errno.INVAL);
    const position = entry.file.seekSync(offset, mode);
    process.memory.writeU64(newOffsetOut, position);
  });
}

export function fdTell(process: HostContext, fd: number, offsetOut: number): ErrnoCode {
  return withErrno(() => {
    const entry = seekableFile(process, fd);
    process.memory.writeU64(offsetOut, entry.file.seekSync(0, Deno.SeekMode.Current));
  });
}
