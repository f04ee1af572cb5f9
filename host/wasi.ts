/**
 * `wasi_snapshot_preview1`: all 46 WASI preview1 functions, with per-process state (fd table,
 * argv, environment) created on a process's first WASI call. The implementation lives in
 * `host/wasi/`; this file declares the signatures and hands each call its process.
 *
 * Errors follow wasi-common (wasmtime 8), which lunatic embeds: a sandbox escape is EPERM, a
 * missing right is ENOTCAPABLE, an unknown fd is EBADF. A bad guest pointer traps.
 */
import { ProcessExit } from "../runtime/errors.ts";
import { type HostContext, hostFn, type HostNamespace, suspendingFn } from "../runtime/host_api.ts";
import { writeStringList, writeStringListSizes } from "./wasi/args_env.ts";
import { clockResGet, clockTimeGet } from "./wasi/clocks.ts";
import { Errno, type ErrnoCode } from "./wasi/constants.ts";
import { withErrno } from "./wasi/errno.ts";
import { fdPread, fdPwrite, fdRead, fdSeek, fdTell, fdWrite } from "./wasi/fd_io.ts";
import {
  fdAdvise,
  fdAllocate,
  fdClose,
  fdFdstatGet,
  fdFdstatSetFlags,
  fdFdstatSetRights,
  fdFilestatGet,
  fdFilestatSetSize,
  fdFilestatSetTimes,
  fdPrestatDirName,
  fdPrestatGet,
  fdRenumber,
  fdSync,
} from "./wasi/fd_meta.ts";
import { fdReaddir } from "./wasi/fd_readdir.ts";
import {
  pathCreateDirectory,
  pathFilestatGet,
  pathFilestatSetTimes,
  pathLink,
  pathOpen,
  pathReadlink,
  pathRemoveDirectory,
  pathRename,
  pathSymlink,
  pathUnlinkFile,
} from "./wasi/paths.ts";
import { pollOneoff } from "./wasi/poll.ts";
import { checkPreopenedDirs, wasiState } from "./wasi/state.ts";

const I32 = "i32";
const I64 = "i64";

/** crypto.getRandomValues fills at most 65,536 bytes per call. */
const RANDOM_CHUNK = 65_536;

function randomGet(process: HostContext, bufPtr: number, bufLen: number): ErrnoCode {
  const memory = process.memory;
  const start = memory.check(bufPtr, bufLen);
  const total = bufLen >>> 0;
  for (let offset = 0; offset < total; offset += RANDOM_CHUNK) {
    const chunk = new Uint8Array(Math.min(RANDOM_CHUNK, total - offset));
    crypto.getRandomValues(chunk);
    memory.write(start + offset, chunk);
  }
  return Errno.SUCCESS;
}

/**
 * WASI sockets: lunatic offers networking through its own namespace and never hands a process
 * a socket fd, so an open fd is never a socket (ENOTSOCK) and an unknown one is EBADF.
 */
function noSocket(process: HostContext, fd: number): ErrnoCode {
  const lookup = withErrno(() => void wasiState(process).fds.get(fd));
  return lookup === Errno.SUCCESS ? Errno.NOTSOCK : lookup;
}

export const wasiNamespace: HostNamespace = {
  module: "wasi_snapshot_preview1",
  prepare: checkPreopenedDirs,
  functions: {
    args_get: hostFn(
      [I32, I32],
      [I32],
      (argv: number, argvBuf: number, p: HostContext) =>
        writeStringList(p.memory, wasiState(p).args, argv, argvBuf),
    ),
    args_sizes_get: hostFn(
      [I32, I32],
      [I32],
      (argcOut: number, bufSizeOut: number, p: HostContext) =>
        writeStringListSizes(p.memory, wasiState(p).args, argcOut, bufSizeOut),
    ),
    environ_get: hostFn(
      [I32, I32],
      [I32],
      (environ: number, environBuf: number, p: HostContext) =>
        writeStringList(p.memory, wasiState(p).environ, environ, environBuf),
    ),
    environ_sizes_get: hostFn(
      [I32, I32],
      [I32],
      (countOut: number, bufSizeOut: number, p: HostContext) =>
        writeStringListSizes(p.memory, wasiState(p).environ, countOut, bufSizeOut),
    ),
    clock_res_get: hostFn(
      [I32, I32],
      [I32],
      (clock: number, resOut: number, p: HostContext) => clockResGet(p.memory, clock, resOut),
    ),
    clock_time_get: hostFn(
      [I32, I64, I32],
      [I32],
      (clock: number, _precision: bigint, timeOut: number, p: HostContext) =>
        clockTimeGet(p.memory, wasiState(p), clock, timeOut),
    ),
    fd_advise: hostFn(
      [I32, I64, I64, I32],
      [I32],
      (fd: number, offset: bigint, len: bigint, advice: number, p: HostContext) =>
        fdAdvise(p, fd, offset, len, advice),
    ),
    fd_allocate: hostFn(
      [I32, I64, I64],
      [I32],
      (fd: number, offset: bigint, len: bigint, p: HostContext) => fdAllocate(p, fd, offset, len),
    ),
    fd_close: hostFn([I32], [I32], (fd: number, p: HostContext) => fdClose(p, fd)),
    fd_datasync: hostFn([I32], [I32], (fd: number, p: HostContext) => fdSync(p, fd, true)),
    fd_fdstat_get: hostFn(
      [I32, I32],
      [I32],
      (fd: number, statOut: number, p: HostContext) => fdFdstatGet(p, fd, statOut),
    ),
    fd_fdstat_set_flags: hostFn(
      [I32, I32],
      [I32],
      (fd: number, flags: number, p: HostContext) => fdFdstatSetFlags(p, fd, flags),
    ),
    fd_fdstat_set_rights: hostFn(
      [I32, I64, I64],
      [I32],
      (fd: number, base: bigint, inheriting: bigint, p: HostContext) =>
        fdFdstatSetRights(p, fd, base, inheriting),
    ),
    fd_filestat_get: hostFn(
      [I32, I32],
      [I32],
      (fd: number, statOut: number, p: HostContext) => fdFilestatGet(p, fd, statOut),
    ),
    fd_filestat_set_size: hostFn(
      [I32, I64],
      [I32],
      (fd: number, size: bigint, p: HostContext) => fdFilestatSetSize(p, fd, size),
    ),
    fd_filestat_set_times: hostFn(
      [I32, I64, I64, I32],
      [I32],
      (fd: number, atim: bigint, mtim: bigint, fstFlags: number, p: HostContext) =>
        fdFilestatSetTimes(p, fd, atim, mtim, fstFlags),
    ),
    fd_pread: hostFn(
      [I32, I32, I32, I64, I32],
      [I32],
      (
        fd: number,
        iovs: number,
        iovsLen: number,
        offset: bigint,
        nreadOut: number,
        p: HostContext,
      ) => fdPread(p, fd, iovs, iovsLen, offset, nreadOut),
    ),
    fd_prestat_get: hostFn(
      [I32, I32],
      [I32],
      (fd: number, prestatOut: number, p: HostContext) => fdPrestatGet(p, fd, prestatOut),
    ),
    fd_prestat_dir_name: hostFn(
      [I32, I32, I32],
      [I32],
      (fd: number, path: number, pathLen: number, p: HostContext) =>
        fdPrestatDirName(p, fd, path, pathLen),
    ),
    fd_pwrite: hostFn(
      [I32, I32, I32, I64, I32],
      [I32],
      (
        fd: number,
        iovs: number,
        iovsLen: number,
        offset: bigint,
        nwrittenOut: number,
        p: HostContext,
      ) => fdPwrite(p, fd, iovs, iovsLen, offset, nwrittenOut),
    ),
    // Suspends only to wait for stdin; file reads return a plain value.
    fd_read: suspendingFn(
      [I32, I32, I32, I32],
      [I32],
      (fd: number, iovs: number, iovsLen: number, nreadOut: number, p: HostContext) =>
        fdRead(p, fd, iovs, iovsLen, nreadOut),
    ),
    fd_readdir: hostFn(
      [I32, I32, I32, I64, I32],
      [I32],
      (
        fd: number,
        buf: number,
        bufLen: number,
        cookie: bigint,
        bufusedOut: number,
        p: HostContext,
      ) => fdReaddir(p, fd, buf, bufLen, cookie, bufusedOut),
    ),
    fd_renumber: hostFn(
      [I32, I32],
      [I32],
      (from: number, to: number, p: HostContext) => fdRenumber(p, from, to),
    ),
    fd_seek: hostFn(
      [I32, I64, I32, I32],
      [I32],
      (fd: number, offset: bigint, whence: number, newOffsetOut: number, p: HostContext) =>
        fdSeek(p, fd, offset, whence, newOffsetOut),
    ),
    fd_sync: hostFn([I32], [I32], (fd: number, p: HostContext) => fdSync(p, fd, false)),
    fd_tell: hostFn(
      [I32, I32],
      [I32],
      (fd: number, offsetOut: number, p: HostContext) => fdTell(p, fd, offsetOut),
    ),
    fd_write: hostFn(
      [I32, I32, I32, I32],
      [I32],
      (fd: number, iovs: number, iovsLen: number, nwrittenOut: number, p: HostContext) =>
        fdWrite(p, fd, iovs, iovsLen, nwrittenOut),
    ),
    path_create_directory: hostFn(
      [I32, I32, I32],
      [I32],
      (fd: number, path: number, pathLen: number, p: HostContext) =>
        pathCreateDirectory(p, fd, path, pathLen),
    ),
    path_filestat_get: hostFn(
      [I32, I32, I32, I32, I32],
      [I32],
      (fd: number, flags: number, path: number, pathLen: number, statOut: number, p: HostContext) =>
        pathFilestatGet(p, fd, flags, path, pathLen, statOut),
    ),
    path_filestat_set_times: hostFn(
      [I32, I32, I32, I32, I64, I64, I32],
      [I32],
      (
        fd: number,
        flags: number,
        path: number,
        pathLen: number,
        atim: bigint,
        mtim: bigint,
        fstFlags: number,
        p: HostContext,
      ) => pathFilestatSetTimes(p, fd, flags, path, pathLen, atim, mtim, fstFlags),
    ),
    path_link: hostFn(
      [I32, I32, I32, I32, I32, I32, I32],
      [I32],
      (
        oldFd: number,
        oldFlags: number,
        oldPath: number,
        oldPathLen: number,
        newFd: number,
        newPath: number,
        newPathLen: number,
        p: HostContext,
      ) => pathLink(p, oldFd, oldFlags, oldPath, oldPathLen, newFd, newPath, newPathLen),
    ),
    path_open: hostFn(
      [I32, I32, I32, I32, I32, I64, I64, I32, I32],
      [I32],
      (
        fd: number,
        dirflags: number,
        path: number,
        pathLen: number,
        oflags: number,
        rightsBase: bigint,
        rightsInheriting: bigint,
        fdflags: number,
        fdOut: number,
        p: HostContext,
      ) =>
        pathOpen(
          p,
          fd,
          dirflags,
          path,
          pathLen,
          oflags,
          rightsBase,
          rightsInheriting,
          fdflags,
          fdOut,
        ),
    ),
    path_readlink: hostFn(
      [I32, I32, I32, I32, I32, I32],
      [I32],
      (
        fd: number,
        path: number,
        pathLen: number,
        buf: number,
        bufLen: number,
        usedOut: number,
        p: HostContext,
      ) => pathReadlink(p, fd, path, pathLen, buf, bufLen, usedOut),
    ),
    path_remove_directory: hostFn(
      [I32, I32, I32],
      [I32],
      (fd: number, path: number, pathLen: number, p: HostContext) =>
        pathRemoveDirectory(p, fd, path, pathLen),
    ),
    path_rename: hostFn(
      [I32, I32, I32, I32, I32, I32],
      [I32],
      (
        fd: number,
        oldPath: number,
        oldPathLen: number,
        newFd: number,
        newPath: number,
        newPathLen: number,
        p: HostContext,
      ) => pathRename(p, fd, oldPath, oldPathLen, newFd, newPath, newPathLen),
    ),
    path_symlink: hostFn(
      [I32, I32, I32, I32, I32],
      [I32],
      (
        oldPath: number,
        oldPathLen: number,
        fd: number,
        newPath: number,
        newPathLen: number,
        p: HostContext,
      ) => pathSymlink(p, oldPath, oldPathLen, fd, newPath, newPathLen),
    ),
    path_unlink_file: hostFn(
      [I32, I32, I32],
      [I32],
      (fd: number, path: number, pathLen: number, p: HostContext) =>
        pathUnlinkFile(p, fd, path, pathLen),
    ),
    // Suspends for clock subscriptions; returns at once when something is already ready.
    poll_oneoff: suspendingFn(
      [I32, I32, I32, I32],
      [I32],
      (inPtr: number, outPtr: number, nsubscriptions: number, neventsOut: number, p: HostContext) =>
        pollOneoff(p, inPtr, outPtr, nsubscriptions, neventsOut),
    ),
    // Ends only the calling process; the code is the guest's u32 exit status.
    proc_exit: hostFn([I32], [], (code: number, _p: HostContext) => {
      throw new ProcessExit(code >>> 0);
    }),
    // Signals do not exist for lunatic processes.
    proc_raise: hostFn([I32], [I32], (_signal: number, _p: HostContext) => Errno.NOSYS),
    random_get: hostFn(
      [I32, I32],
      [I32],
      (buf: number, bufLen: number, p: HostContext) => randomGet(p, buf, bufLen),
    ),
    sched_yield: suspendingFn([], [I32], async (p: HostContext) => {
      await p.yieldNow();
      return Errno.SUCCESS;
    }),
    sock_accept: hostFn(
      [I32, I32, I32],
      [I32],
      (fd: number, _flags: number, _fdOut: number, p: HostContext) => noSocket(p, fd),
    ),
    sock_recv: hostFn(
      [I32, I32, I32, I32, I32, I32],
      [I32],
      (
        fd: number,
        _iovs: number,
        _count: number,
        _flags: number,
        _size: number,
        _rflags: number,
        p: HostContext,
      ) => noSocket(p, fd),
    ),
    sock_send: hostFn(
      [I32, I32, I32, I32, I32],
      [I32],
      (fd: number, _iovs: number, _count: number, _flags: number, _size: number, p: HostContext) =>
        noSocket(p, fd),
    ),
    sock_shutdown: hostFn(
      [I32, I32],
      [I32],
      (fd: number, _how: number, p: HostContext) => noSocket(p, fd),
    ),
  },
};
