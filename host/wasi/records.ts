/**
 * The preview1 records the host reads from and writes to guest memory (iovecs, fdstat,
 * filestat, dirent), at their witx offsets. All values are little-endian.
 */
import type { GuestMemory } from "../../runtime/guest_memory.ts";
import { FileType, Size } from "./constants.ts";

/** One `iovec`/`ciovec`: a guest buffer. */
export interface GuestBuffer {
  ptr: number;
  len: number;
}

/**
 * Reads `count` iovecs at `iovsPtr` and bounds-checks each buffer, so a bad pointer traps
 * before any data moves.
 */
export function readIovecs(memory: GuestMemory, iovsPtr: number, count: number): GuestBuffer[] {
  const n = count >>> 0;
  memory.check(iovsPtr, n * Size.IOVEC);
  const buffers: GuestBuffer[] = [];
  for (let i = 0; i < n; i++) {
    const at = (iovsPtr >>> 0) + i * Size.IOVEC;
    const buffer = { ptr: memory.readU32(at), len: memory.readU32(at + 4) };
    memory.check(buffer.ptr, buffer.len);
    buffers.push(buffer);
  }
  return buffers;
}

/** The total length of `buffers`. */
export function totalLength(buffers: readonly GuestBuffer[]): number {
  return buffers.reduce((sum, buffer) => sum + buffer.len, 0);
}

/** The bytes of `buffers` concatenated (a copy). */
export function gatherBytes(memory: GuestMemory, buffers: readonly GuestBuffer[]): Uint8Array {
  if (buffers.length === 1) return memory.copy(buffers[0].ptr, buffers[0].len);
  const out = new Uint8Array(totalLength(buffers));
  let offset = 0;
  for (const buffer of buffers) {
    out.set(memory.bytes(buffer.ptr, buffer.len), offset);
    offset += buffer.len;
  }
  return out;
}

/** Copies `data` across `buffers` in order; returns how many bytes were placed. */
export function scatterBytes(
  memory: GuestMemory,
  buffers: readonly GuestBuffer[],
  data: Uint8Array,
): number {
  let offset = 0;
  for (const buffer of buffers) {
    if (offset >= data.byteLength) break;
    const chunk = data.subarray(offset, offset + buffer.len);
    memory.write(buffer.ptr, chunk);
    offset += chunk.byteLength;
  }
  return offset;
}

/** `filestat`, 64 bytes. */
export interface Filestat {
  dev: bigint;
  ino: bigint;
  fileType: number;
  nlink: bigint;
  size: bigint;
  atim: bigint;
  mtim: bigint;
  ctim: bigint;
}

/** The WASI file type of a host file. */
export function fileTypeOf(info: Deno.FileInfo): number {
  if (info.isFile) return FileType.REGULAR_FILE;
  if (info.isDirectory) return FileType.DIRECTORY;
  if (info.isSymlink) return FileType.SYMBOLIC_LINK;
  if (info.isCharDevice) return FileType.CHARACTER_DEVICE;
  if (info.isBlockDevice) return FileType.BLOCK_DEVICE;
  if (info.isSocket) return FileType.SOCKET_STREAM;
  return FileType.UNKNOWN;
}

/** Nanoseconds since the epoch (Deno gives millisecond precision); 0 when unknown. */
function nanos(date: Date | null): bigint {
  return date === null ? 0n : BigInt(date.getTime()) * 1_000_000n;
}

export function filestatOf(info: Deno.FileInfo): Filestat {
  return {
    dev: BigInt(info.dev),
    ino: BigInt(info.ino ?? 0),
    fileType: fileTypeOf(info),
    nlink: BigInt(info.nlink ?? 1),
    size: BigInt(info.size),
    atim: nanos(info.atime),
    mtim: nanos(info.mtime),
    ctim: nanos(info.ctime ?? info.mtime),
  };
}

export function writeFilestat(memory: GuestMemory, ptr: number, stat: Filestat): void {
  const bytes = new Uint8Array(Size.FILESTAT);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, stat.dev, true);
  view.setBigUint64(8, stat.ino, true);
  view.setUint8(16, stat.fileType);
  view.setBigUint64(24, stat.nlink, true);
  view.setBigUint64(32, stat.size, true);
  view.setBigUint64(40, stat.atim, true);
  view.setBigUint64(48, stat.mtim, true);
  view.setBigUint64(56, stat.ctim, true);
  memory.write(ptr, bytes);
}

/** `fdstat`, 24 bytes. */
export interface Fdstat {
  fileType: number;
  flags: number;
  rightsBase: bigint;
  rightsInheriting: bigint;
}

export function writeFdstat(memory: GuestMemory, ptr: number, stat: Fdstat): void {
  const bytes = new Uint8Array(Size.FDSTAT);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, stat.fileType);
  view.setUint16(2, stat.flags, true);
  view.setBigUint64(8, stat.rightsBase, true);
  view.setBigUint64(16, stat.rightsInheriting, true);
  memory.write(ptr, bytes);
}

/** The 24-byte `dirent` header; the name's bytes follow it in the buffer. */
export function direntHeader(
  next: bigint,
  ino: bigint,
  nameLength: number,
  fileType: number,
): Uint8Array {
  const bytes = new Uint8Array(Size.DIRENT);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, next, true);
  view.setBigUint64(8, ino, true);
  view.setUint32(16, nameLength, true);
  view.setUint8(20, fileType);
  return bytes;
}
