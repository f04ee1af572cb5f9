/**
 * The `path_*` calls. Every path is taken relative to a directory fd and resolved by the
 * sandbox (sandbox.ts) before Deno touches the host filesystem.
 */
import type { GuestMemory } from "../../runtime/guest_memory.ts";
import type { HostContext } from "../../runtime/host_api.ts";
import {
  DIRECTORY_RIGHTS,
  Errno,
  type ErrnoCode,
  FDFLAGS_ALL,
  FILE_RIGHTS,
  LookupFlags,
  OFlags,
  Rights,
} from "./constants.ts";
import { fail, withErrno } from "./errno.ts";
import { requireRight } from "./fd_io.ts";
import { requestedTimes, setPathTimes, withExactTimes } from "./file_times.ts";
import { DirEntry, FileEntry } from "./fd_table.ts";
import { filestatOf, writeFilestat } from "./records.ts";
import { resolveInSandbox, type SandboxedPath } from "./sandbox.ts";
import { wasiState } from "./state.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Rights that need the host file opened for writing. */
const WRITE_RIGHTS = Rights.FD_WRITE | Rights.FD_ALLOCATE | Rights.FD_FILESTAT_SET_SIZE;

/** A guest path string; EILSEQ (as in wasi-common) when it is not UTF-8. */
function readGuestPath(memory: GuestMemory, ptr: number, len: number): string {
  const bytes = memory.bytes(ptr, len);
  try {
    return utf8.decode(bytes);
  } catch {
    fail(Errno.ILSEQ, "path is not valid UTF-8");
  }
}

/**
 * Reads the path at `ptr` and resolves it under directory fd `fd`, which must hold `right`
 * (ENOTCAPABLE otherwise, as in wasi-common).
 */
function resolveGuestPath(
  process: HostContext,
  fd: number,
  ptr: number,
  len: number,
  followFinal: boolean,
  right: bigint,
): SandboxedPath {
  const dir = wasiState(process).fds.dir(fd);
  requireRight(dir, right);
  const path = readGuestPath(process.memory, ptr, len);
  return resolveInSandbox(dir.root, dir.parts, path, followFinal);
}

function lstatOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Refuses paths whose last component is `.` or `..` (rmdir and rename of those are EINVAL). */
function refuseDotLast(process: HostContext, ptr: number, len: number): void {
  const last = readGuestPath(process.memory, ptr, len).split("/").filter((c) => c !== "").at(-1);
  if (last === "." || last === "..") fail(Errno.INVAL);
}

/**
 * The name a link or symlink is to get. With a trailing slash it must be an existing
 * directory's (so EEXIST follows), as Linux has it: a new name ending in `/` is ENOENT.
 */
function newName(target: SandboxedPath): SandboxedPath {
  if (target.trailingSlash && lstatOrNull(target.hostPath) === null) fail(Errno.NOENT);
  return target;
}

/** Refuses an operation that would remove or move a preopen itself. */
function refuseRoot(target: SandboxedPath): void {
  if (target.parts.length === 0) fail(Errno.BUSY);
}

/** Whether WASI lookup flags ask for the last path component's symlink to be followed. */
function followsSymlinks(lookupFlags: number): boolean {
  return (lookupFlags & LookupFlags.SYMLINK_FOLLOW) !== 0;
}

export function pathOpen(
  process: HostContext,
  dirFd: number,
  lookupFlags: number,
  pathPtr: number,
  pathLen: number,
  oflags: number,
  rightsBase: bigint,
  rightsInheriting: bigint,
  fdFlags: number,
  fdOut: number,
): ErrnoCode {
  return withErrno(() => {
    process.memory.check(fdOut, 4);
    const fds = wasiState(process).fds;
    const dir = fds.dir(dirFd);
    const creating = (oflags & OFlags.CREAT) !== 0;
    const exclusive = creating && (oflags & OFlags.EXCL) !== 0;
    const truncating = (oflags & OFlags.TRUNC) !== 0;
    requireRight(dir, Rights.PATH_OPEN);
    if (creating) requireRight(dir, Rights.PATH_CREATE_FILE);
    if (truncating) requireRight(dir, Rights.PATH_FILESTAT_SET_SIZE);
    const wantsDirectory = (oflags & OFlags.DIRECTORY) !== 0;
    if (wantsDirectory && (oflags & (OFlags.CREAT | OFlags.EXCL | OFlags.TRUNC))) {
      fail(Errno.INVAL);
    }
    // O_CREAT|O_EXCL never follows a final symlink: the link itself makes the name taken.
    const follow = followsSymlinks(lookupFlags) && !exclusive;
    const path = readGuestPath(process.memory, pathPtr, pathLen);
    const target = resolveInSandbox(dir.root, dir.parts, path, follow);
    const info = lstatOrNull(target.hostPath);
    if (info !== null && exclusive) fail(Errno.EXIST);
    if (info?.isSymlink) fail(Errno.LOOP);

    // What the new fd may do: what was asked for, within what the directory passes on.
    const base = BigInt.asUintN(64, rightsBase) & dir.rightsInheriting;
    const writing = (base & WRITE_RIGHTS) !== 0n;

    if (wantsDirectory || info?.isDirectory) {
      if (info === null) fail(Errno.NOENT);
      if (!info.isDirectory) fail(Errno.NOTDIR);
      // A directory cannot be written to, whatever the flags (Linux's open(O_RDWR) of one).
      if ((base & Rights.FD_WRITE) !== 0n) fail(Errno.ISDIR);
      const inheriting = BigInt.asUintN(64, rightsInheriting) & dir.rightsInheriting;
      const child = new DirEntry(dir.root, target.parts, null, base & DIRECTORY_RIGHTS, inheriting);
      process.memory.writeU32(fdOut, fds.add(child));
      return;
    }
    if (info === null && !creating) fail(Errno.NOENT);
    if (info === null && target.trailingSlash) fail(Errno.ISDIR);
    // Opening a FIFO or socket would block the whole runtime until a peer shows up.
    if (info?.isFifo || info?.isSocket) fail(Errno.NOTSUP);

    const file = openHostFile(target.hostPath, {
      read: (base & Rights.FD_READ) !== 0n,
      write: writing,
      create: creating,
      exclusive,
      truncate: truncating,
    });
    const entry = new FileEntry(file, target.hostPath, base & FILE_RIGHTS, fdFlags & FDFLAGS_ALL);
    process.memory.writeU32(fdOut, fds.add(entry));
  });
}

interface OpenIntent {
  read: boolean;
  write: boolean;
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
}

/**
 * Opens a host file. Deno refuses to create or truncate through a handle without write
 * access (POSIX allows it), so a read-only open that creates or truncates does that first
 * through a short-lived writable handle. A handle must read or write, so an fd with neither
 * right is opened for reading (its rights still refuse the read).
 */
function openHostFile(path: string, intent: OpenIntent): Deno.FsFile {
  if (intent.write) {
    return Deno.openSync(path, {
      read: intent.read,
      write: true,
      create: intent.create,
      createNew: intent.exclusive,
      truncate: intent.truncate,
    });
  }
  if (intent.create || intent.truncate) {
    Deno.openSync(path, {
      write: true,
      create: intent.create,
      createNew: intent.exclusive,
      truncate: intent.truncate,
    }).close();
  }
  return Deno.openSync(path, { read: true });
}

export function pathCreateDirectory(
  process: HostContext,
  fd: number,
  pathPtr: number,
  pathLen: number,
): ErrnoCode {
  return withErrno(() => {
    const target = resolveGuestPath(
      process,
      fd,
      pathPtr,
      pathLen,
      false,
      Rights.PATH_CREATE_DIRECTORY,
    );
    Deno.mkdirSync(target.hostPath);
  });
}

export function pathFilestatGet(
  process: HostContext,
  fd: number,
  lookupFlags: number,
  pathPtr: number,
  pathLen: number,
  statOut: number,
): ErrnoCode {
  return withErrno(() => {
    const follow = followsSymlinks(lookupFlags);
    const target = resolveGuestPath(
      process,
      fd,
      pathPtr,
      pathLen,
      follow,
      Rights.PATH_FILESTAT_GET,
    );
    const stat = filestatOf(Deno.lstatSync(target.hostPath));
    writeFilestat(process.memory, statOut, withExactTimes(stat, target.hostPath));
  });
}

export function pathFilestatSetTimes(
  process: HostContext,
  fd: number,
  lookupFlags: number,
  pathPtr: number,
  pathLen: number,
  atim: bigint,
  mtim: bigint,
  fstFlags: number,
): ErrnoCode {
  return withErrno(() => {
    const follow = followsSymlinks(lookupFlags);
    const right = Rights.PATH_FILESTAT_SET_TIMES;
    const path = resolveGuestPath(process, fd, pathPtr, pathLen, follow, right).hostPath;
    const times = requestedTimes(atim, mtim, fstFlags);
    // The sandbox has already resolved a symlink the flags follow: this is the file itself.
    if (times) setPathTimes(path, times);
    else Deno.lstatSync(path);
  });
}

export function pathLink(
  process: HostContext,
  oldFd: number,
  oldLookupFlags: number,
  oldPathPtr: number,
  oldPathLen: number,
  newFd: number,
  newPathPtr: number,
  newPathLen: number,
): ErrnoCode {
  return withErrno(() => {
    const follow = followsSymlinks(oldLookupFlags);
    const source = resolveGuestPath(
      process,
      oldFd,
      oldPathPtr,
      oldPathLen,
      follow,
      Rights.PATH_LINK_SOURCE,
    );
    const link = newName(
      resolveGuestPath(process, newFd, newPathPtr, newPathLen, false, Rights.PATH_LINK_TARGET),
    );
    Deno.linkSync(source.hostPath, link.hostPath);
  });
}

/** Copies the link's text, truncated to the buffer as POSIX `readlink` does. */
export function pathReadlink(
  process: HostContext,
  fd: number,
  pathPtr: number,
  pathLen: number,
  bufPtr: number,
  bufLen: number,
  bufusedOut: number,
): ErrnoCode {
  return withErrno(() => {
    const link = resolveGuestPath(process, fd, pathPtr, pathLen, false, Rights.PATH_READLINK);
    const text = encoder.encode(Deno.readLinkSync(link.hostPath));
    const copied = text.subarray(0, bufLen >>> 0);
    process.memory.write(bufPtr, copied);
    process.memory.writeU32(bufusedOut, copied.byteLength);
  });
}

export function pathRemoveDirectory(
  process: HostContext,
  fd: number,
  pathPtr: number,
  pathLen: number,
): ErrnoCode {
  return withErrno(() => {
    refuseDotLast(process, pathPtr, pathLen);
    const right = Rights.PATH_REMOVE_DIRECTORY;
    const target = resolveGuestPath(process, fd, pathPtr, pathLen, false, right);
    refuseRoot(target);
    if (!Deno.lstatSync(target.hostPath).isDirectory) fail(Errno.NOTDIR);
    Deno.removeSync(target.hostPath);
  });
}

export function pathRename(
  process: HostContext,
  oldFd: number,
  oldPathPtr: number,
  oldPathLen: number,
  newFd: number,
  newPathPtr: number,
  newPathLen: number,
): ErrnoCode {
  return withErrno(() => {
    refuseDotLast(process, oldPathPtr, oldPathLen);
    refuseDotLast(process, newPathPtr, newPathLen);
    const source = resolveGuestPath(
      process,
      oldFd,
      oldPathPtr,
      oldPathLen,
      false,
      Rights.PATH_RENAME_SOURCE,
    );
    const destination = resolveGuestPath(
      process,
      newFd,
      newPathPtr,
      newPathLen,
      false,
      Rights.PATH_RENAME_TARGET,
    );
    refuseRoot(source);
    refuseRoot(destination);
    Deno.renameSync(source.hostPath, destination.hostPath);
  });
}

/**
 * Creates a symlink whose text is `oldPath`. An absolute target is refused (EPERM) as it could
 * only ever lead outside the sandbox; a relative one is checked whenever it is followed.
 */
export function pathSymlink(
  process: HostContext,
  oldPathPtr: number,
  oldPathLen: number,
  fd: number,
  newPathPtr: number,
  newPathLen: number,
): ErrnoCode {
  return withErrno(() => {
    const linkText = readGuestPath(process.memory, oldPathPtr, oldPathLen);
    if (linkText.length === 0) fail(Errno.NOENT);
    if (linkText.includes("\0")) fail(Errno.INVAL);
    if (linkText.startsWith("/")) fail(Errno.PERM, "absolute symlink target refused");
    const link = newName(
      resolveGuestPath(process, fd, newPathPtr, newPathLen, false, Rights.PATH_SYMLINK),
    );
    Deno.symlinkSync(linkText, link.hostPath);
  });
}

export function pathUnlinkFile(
  process: HostContext,
  fd: number,
  pathPtr: number,
  pathLen: number,
): ErrnoCode {
  return withErrno(() => {
    const target = resolveGuestPath(process, fd, pathPtr, pathLen, false, Rights.PATH_UNLINK_FILE);
    // Deno's remove would also rmdir a directory; unlink must not.
    if (Deno.lstatSync(target.hostPath).isDirectory) fail(Errno.ISDIR);
    Deno.removeSync(target.hostPath);
  });
}
