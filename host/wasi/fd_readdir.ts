/**
 * `fd_readdir`: fills the guest buffer with `dirent` headers, each followed by its name.
 * Entry `i` of the listing (`.` and `..` first) carries cookie `i + 1` in `d_next`, and a read
 * starting at cookie `c` resumes at entry `c`. The last entry may be cut off at the end of the
 * buffer; a full buffer tells the guest to read again from the last whole entry's cookie.
 */
import { join } from "node:path";
import type { HostContext } from "../../runtime/host_api.ts";
import { type ErrnoCode, FileType, Rights } from "./constants.ts";
import { withErrno } from "./errno.ts";
import { requireRight } from "./fd_io.ts";
import type { DirEntry, DirListingEntry } from "./fd_table.ts";
import { direntHeader, fileTypeOf } from "./records.ts";
import { wasiState } from "./state.ts";

const encoder = new TextEncoder();

export function fdReaddir(
  process: HostContext,
  fd: number,
  bufPtr: number,
  bufLen: number,
  cookie: bigint,
  bufusedOut: number,
): ErrnoCode {
  return withErrno(() => {
    const dir = wasiState(process).fds.dir(fd);
    requireRight(dir, Rights.FD_READDIR);
    const start = BigInt.asUintN(64, cookie);
    // A read from the start takes a fresh listing; resumed reads page through the same one,
    // so cookies stay meaningful while the guest walks the directory.
    if (start === 0n || dir.listing === null) dir.listing = listDirectory(dir);
    const capacity = bufLen >>> 0;
    let used = 0;
    // Copies as much of `bytes` as still fits in the guest buffer.
    const put = (bytes: Uint8Array) => {
      const part = bytes.subarray(0, capacity - used);
      process.memory.write((bufPtr >>> 0) + used, part);
      used += part.byteLength;
    };
    for (let i = start; i < BigInt(dir.listing.length) && used < capacity; i++) {
      const entry = dir.listing[Number(i)];
      put(direntHeader(i + 1n, entry.ino, entry.name.byteLength, entry.fileType));
      put(entry.name);
    }
    process.memory.writeU32(bufusedOut, used);
  });
}

/** `.`, `..`, then the directory's entries in the host's order, with inode and type. */
function listDirectory(dir: DirEntry): DirListingEntry[] {
  const path = dir.hostPath;
  const self = Deno.statSync(path);
  // The preopen root is its own parent: the guest cannot see above it.
  const parent = dir.parts.length === 0
    ? self
    : Deno.statSync(join(dir.root, ...dir.parts.slice(0, -1)));
  const listing: DirListingEntry[] = [
    { name: encoder.encode("."), ino: BigInt(self.ino ?? 0), fileType: FileType.DIRECTORY },
    { name: encoder.encode(".."), ino: BigInt(parent.ino ?? 0), fileType: FileType.DIRECTORY },
  ];
  for (const child of Deno.readDirSync(path)) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(join(path, child.name));
    } catch (error) {
      // Removed while we listed: it is no longer an entry.
      if (error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    listing.push({
      name: encoder.encode(child.name),
      ino: BigInt(info.ino ?? 0),
      fileType: fileTypeOf(info),
    });
  }
  return listing;
}
