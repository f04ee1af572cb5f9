/**
 * A process's WASI file descriptors: the three standard streams, preopened directories and
 * whatever the guest opens. Numbers are handed out in increasing order and not reused, as
 * wasi-common (the WASI implementation lunatic embeds) does.
 */
import { join } from "node:path";
import { DIRECTORY_RIGHTS, Errno, FILE_RIGHTS, STDIN_RIGHTS, STDOUT_RIGHTS } from "./constants.ts";
import { fail } from "./errno.ts";

export type StdStream = "stdin" | "stdout" | "stderr";

/** fd 0, 1 or 2: one of the process's standard streams. */
export class StdioEntry {
  readonly kind = "stdio";
  rightsBase: bigint;
  fdFlags = 0;
  constructor(readonly stream: StdStream) {
    this.rightsBase = stream === "stdin" ? STDIN_RIGHTS : STDOUT_RIGHTS;
  }
}

/** A host file opened by `path_open`. */
export class FileEntry {
  readonly kind = "file";
  constructor(
    readonly file: Deno.FsFile,
    /** The host path it was opened under (it may since have been renamed or removed). */
    readonly openedAs: string,
    /** Rights the guest holds; FD_READ and FD_WRITE gate reads and writes. */
    public rightsBase: bigint,
    /** APPEND, DSYNC, RSYNC, SYNC, NONBLOCK as the guest set them (see files.ts). */
    public fdFlags: number,
  ) {}

  close(): void {
    this.file.close();
  }
}

/** One directory entry as `fd_readdir` reports it. */
export interface DirListingEntry {
  name: Uint8Array;
  ino: bigint;
  fileType: number;
}

/**
 * A directory: a preopen, or one the guest opened under a preopen. It is held as a path
 * inside its preopen's root (not as an open host handle), so every lookup through it is
 * resolved by the sandbox from `root`.
 */
export class DirEntry {
  readonly kind = "dir";
  /** The listing `fd_readdir` is paging through; refreshed when a read starts at cookie 0. */
  listing: DirListingEntry[] | null = null;

  constructor(
    /** Host path of the preopen this directory lies in (symlinks resolved). */
    readonly root: string,
    /** Path components from `root` to this directory. */
    readonly parts: readonly string[],
    /** The guest-visible name when this is a preopen, otherwise null. */
    readonly preopenName: string | null,
    public rightsBase: bigint = DIRECTORY_RIGHTS,
    public rightsInheriting: bigint = DIRECTORY_RIGHTS | FILE_RIGHTS,
  ) {}

  get hostPath(): string {
    return join(this.root, ...this.parts);
  }
}

export type FdEntry = StdioEntry | FileEntry | DirEntry;

/** The largest fd number (fds are u32). */
const MAX_FD = 0xFFFF_FFFF;

export class FdTable {
  readonly #entries = new Map<number, FdEntry>();
  #nextFd = 0;

  /** Adds `entry` under the next unused number. */
  add(entry: FdEntry): number {
    while (this.#entries.has(this.#nextFd)) this.#nextFd++;
    if (this.#nextFd > MAX_FD) fail(Errno.MFILE);
    const fd = this.#nextFd++;
    this.#entries.set(fd, entry);
    return fd;
  }

  /** The entry for `fd`, or EBADF. */
  get(fd: number): FdEntry {
    const entry = this.#entries.get(fd >>> 0);
    if (entry === undefined) fail(Errno.BADF, `fd ${fd >>> 0} is not open`);
    return entry;
  }

  /** The directory `fd` names: EBADF when unknown, ENOTDIR when it is not a directory. */
  dir(fd: number): DirEntry {
    const entry = this.get(fd);
    if (entry.kind !== "dir") fail(Errno.NOTDIR);
    return entry;
  }

  /** The file or stream `fd` names: EBADF when unknown or a directory. */
  stream(fd: number): FileEntry | StdioEntry {
    const entry = this.get(fd);
    if (entry.kind === "dir") fail(Errno.BADF, `fd ${fd >>> 0} is a directory`);
    return entry;
  }

  /** Closes `fd`, a preopen too (lunatic's wasi-common refuses that with ENOTSUP). */
  close(fd: number): void {
    const entry = this.get(fd);
    this.#entries.delete(fd >>> 0);
    if (entry.kind === "file") entry.close();
  }

  /**
   * Moves `from` onto `to` (which must be open), closing what `to` held; preopens too
   * (lunatic's wasi-common refuses them with ENOTSUP).
   */
  renumber(from: number, to: number): void {
    const moving = this.get(from);
    const replaced = this.get(to);
    if ((from >>> 0) === (to >>> 0)) return;
    this.#entries.delete(from >>> 0);
    this.#entries.set(to >>> 0, moving);
    if (replaced.kind === "file") replaced.close();
  }

  /** Closes every open file (the process has ended). */
  closeAll(): void {
    for (const entry of this.#entries.values()) {
      if (entry.kind === "file") {
        try {
          entry.close();
        } catch {
          // Already closed by the host (e.g. the resource went away); nothing left to free.
        }
      }
    }
    this.#entries.clear();
  }
}
