/**
 * Descriptor bookkeeping and metadata: close, renumber, fdstat, filestat, sizes, times, sync,
 * advice and preopen discovery. Standard streams are not host files here (they are the
 * process's sinks and source), so they report a character device and refuse file operations
 * the way a terminal would (ESPIPE, EINVAL).
 */
import type { HostContext } from "../../runtime/host_api.ts";
import {
  Errno,
  type ErrnoCode,
  FDFLAGS_ALL,
  FileType,
  MAX_ADVICE,
  PREOPEN_TYPE_DIR,
  Rights,
} from "./constants.ts";
import { fail, withErrno } from "./errno.ts";
import { requestedTimes, setFileTimes, setPathTimes, withExactTimes } from "./file_times.ts";
import { requireRight } from "./fd_io.ts";
import type { DirEntry, FileEntry } from "./fd_table.ts";
import { type Filestat, filestatOf, writeFdstat, writeFilestat } from "./records.ts";
import { wasiState } from "./state.ts";

const encoder = new TextEncoder();

export function fdClose(process: HostContext, fd: number): ErrnoCode {
  return withErrno(() => wasiState(process).fds.close(fd));
}

export function fdRenumber(process: HostContext, from: number, to: number): ErrnoCode {
  return withErrno(() => wasiState(process).fds.renumber(from, to));
}

export function fdFdstatGet(process: HostContext, fd: number, statOut: number): ErrnoCode {
  return withErrno(() => {
    const entry = wasiState(process).fds.get(fd);
    switch (entry.kind) {
      case "stdio":
        writeFdstat(process.memory, statOut, {
          fileType: FileType.CHARACTER_DEVICE,
          flags: entry.fdFlags,
          rightsBase: entry.rightsBase,
          rightsInheriting: 0n,
        });
        return;
      case "file":
        writeFdstat(process.memory, statOut, {
          fileType: filestatOf(entry.file.statSync()).fileType,
          flags: entry.fdFlags,
          rightsBase: entry.rightsBase,
          rightsInheriting: 0n,
        });
        return;
      case "dir":
        writeFdstat(process.memory, statOut, {
          fileType: FileType.DIRECTORY,
          flags: 0,
          rightsBase: entry.rightsBase,
          rightsInheriting: entry.rightsInheriting,
        });
    }
  });
}

/** Sets APPEND/NONBLOCK/DSYNC/RSYNC/SYNC on a file or stream (see fd_io.ts for their effect). */
export function fdFdstatSetFlags(process: HostContext, fd: number, flags: number): ErrnoCode {
  return withErrno(() => {
    const entry = wasiState(process).fds.stream(fd);
    const wanted = flags & 0xFFFF;
    if (wanted & ~FDFLAGS_ALL) fail(Errno.INVAL);
    entry.fdFlags = wanted;
  });
}

/** Rights can only be dropped; asking for one the fd lacks is ENOTCAPABLE. */
export function fdFdstatSetRights(
  process: HostContext,
  fd: number,
  rightsBase: bigint,
  rightsInheriting: bigint,
): ErrnoCode {
  return withErrno(() => {
    const entry = wasiState(process).fds.get(fd);
    const base = BigInt.asUintN(64, rightsBase);
    const inheriting = BigInt.asUintN(64, rightsInheriting);
    if (base & ~entry.rightsBase) fail(Errno.NOTCAPABLE);
    if (entry.kind === "dir") {
      if (inheriting & ~entry.rightsInheriting) fail(Errno.NOTCAPABLE);
      entry.rightsInheriting = inheriting;
    }
    entry.rightsBase = base;
  });
}

export function fdFilestatGet(process: HostContext, fd: number, statOut: number): ErrnoCode {
  return withErrno(() => {
    const entry = wasiState(process).fds.get(fd);
    let stat: Filestat;
    switch (entry.kind) {
      case "stdio":
        stat = characterDeviceStat();
        break;
      case "file":
        stat = withExactTimes(filestatOf(entry.file.statSync()), entry.openedAs);
        break;
      case "dir":
        stat = withExactTimes(filestatOf(Deno.statSync(entry.hostPath)), entry.hostPath, true);
    }
    writeFilestat(process.memory, statOut, stat);
  });
}

function characterDeviceStat(): Filestat {
  return {
    dev: 0n,
    ino: 0n,
    fileType: FileType.CHARACTER_DEVICE,
    nlink: 1n,
    size: 0n,
    atim: 0n,
    mtim: 0n,
    ctim: 0n,
  };
}

export function fdFilestatSetSize(process: HostContext, fd: number, size: bigint): ErrnoCode {
  return withErrno(() => {
    const entry = fileEntry(process, fd, Errno.INVAL);
    requireRight(entry, Rights.FD_FILESTAT_SET_SIZE);
    entry.file.truncateSync(fileLength(BigInt.asUintN(64, size)));
  });
}

export function fdFilestatSetTimes(
  process: HostContext,
  fd: number,
  atim: bigint,
  mtim: bigint,
  fstFlags: number,
): ErrnoCode {
  return withErrno(() => {
    const entry = wasiState(process).fds.get(fd);
    if (entry.kind === "stdio") fail(Errno.NOTSUP);
    requireRight(entry, Rights.FD_FILESTAT_SET_TIMES);
    const times = requestedTimes(atim, mtim, fstFlags);
    if (times === null) return;
    if (entry.kind === "file") setFileTimes(entry.file, entry.openedAs, times);
    else setPathTimes(entry.hostPath, times, true);
  });
}

/** Extends the file so `[offset, offset+len)` is allocated (never shrinks it). */
export function fdAllocate(
  process: HostContext,
  fd: number,
  offset: bigint,
  len: bigint,
): ErrnoCode {
  return withErrno(() => {
    const entry = fileEntry(process, fd, Errno.SPIPE);
    requireRight(entry, Rights.FD_ALLOCATE);
    const end = BigInt.asUintN(64, offset) + BigInt.asUintN(64, len);
    if (BigInt(entry.file.statSync().size) < end) entry.file.truncateSync(fileLength(end));
  });
}

/** Advice is only a hint and Deno has no fadvise, so a valid call on a file succeeds as is. */
export function fdAdvise(
  process: HostContext,
  fd: number,
  _offset: bigint,
  _len: bigint,
  advice: number,
): ErrnoCode {
  return withErrno(() => {
    fileEntry(process, fd, Errno.SPIPE);
    if ((advice >>> 0) > MAX_ADVICE) fail(Errno.INVAL);
  });
}

export function fdSync(process: HostContext, fd: number, dataOnly: boolean): ErrnoCode {
  return withErrno(() => {
    const entry = wasiState(process).fds.get(fd);
    if (entry.kind === "stdio") fail(Errno.INVAL);
    if (entry.kind === "file") {
      if (dataOnly) entry.file.syncDataSync();
      else entry.file.syncSync();
      return;
    }
    syncDirectory(entry);
  });
}

/** Directories are held as paths, so syncing one opens it briefly. */
function syncDirectory(entry: DirEntry): void {
  const handle = Deno.openSync(entry.hostPath, { read: true });
  try {
    handle.syncSync();
  } finally {
    handle.close();
  }
}

export function fdPrestatGet(process: HostContext, fd: number, prestatOut: number): ErrnoCode {
  return withErrno(() => {
    const name = preopenName(process, fd);
    process.memory.writeU8(prestatOut, PREOPEN_TYPE_DIR);
    process.memory.writeU32((prestatOut >>> 0) + 4, encoder.encode(name).byteLength);
  });
}

/** Writes the preopen's guest name (no NUL); ENAMETOOLONG if the buffer is too small. */
export function fdPrestatDirName(
  process: HostContext,
  fd: number,
  pathPtr: number,
  pathLen: number,
): ErrnoCode {
  return withErrno(() => {
    const name = encoder.encode(preopenName(process, fd));
    if (name.byteLength > (pathLen >>> 0)) fail(Errno.NAMETOOLONG);
    process.memory.write(pathPtr, name);
  });
}

/**
 * The guest name of preopen `fd`. Any other fd is EBADF: wasi-libc scans fds from 3 until
 * EBADF to discover the preopens.
 */
function preopenName(process: HostContext, fd: number): string {
  const entry = wasiState(process).fds.get(fd);
  if (entry.kind !== "dir" || entry.preopenName === null) fail(Errno.BADF);
  return entry.preopenName;
}

/** The file `fd` names; `streamErrno` for a standard stream, EBADF for a directory. */
function fileEntry(process: HostContext, fd: number, streamErrno: ErrnoCode): FileEntry {
  const entry = wasiState(process).fds.stream(fd);
  if (entry.kind === "stdio") fail(streamErrno);
  return entry;
}

/** A file length Deno can take (a safe integer); EFBIG beyond that. */
function fileLength(size: bigint): number {
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail(Errno.FBIG);
  return Number(size);
}
