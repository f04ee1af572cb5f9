import { trap } from "./errors.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * Bounds-checked access to a process's linear memory. Every host call reads guest pointers
 * through this, so an out-of-range pointer traps the calling process and nothing else.
 * The views are refreshed whenever `memory.grow` has replaced the underlying buffer.
 */
export class GuestMemory {
  #buffer: ArrayBuffer | SharedArrayBuffer | null = null;
  #u8 = new Uint8Array(0);
  #view = new DataView(new ArrayBuffer(0));
  /** A shared memory grows without detaching its old buffer, so it is re-read every time. */
  #shared = false;

  constructor(readonly memory: WebAssembly.Memory) {}

  #refresh(): void {
    // `memory.grow` detaches the old buffer, which empties its views: only then (or for a
    // shared or empty memory) is the buffer fetched again.
    if (this.#u8.byteLength !== 0 && !this.#shared) return;
    const buffer = this.memory.buffer;
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#shared = typeof SharedArrayBuffer !== "undefined" &&
        buffer instanceof SharedArrayBuffer;
      this.#u8 = new Uint8Array(buffer as ArrayBuffer);
      this.#view = new DataView(buffer as ArrayBuffer);
    }
  }

  /** The whole memory as bytes (valid until the next call that may grow memory). */
  get u8(): Uint8Array {
    this.#refresh();
    return this.#u8;
  }

  /** The whole memory as a DataView (valid until the next call that may grow memory). */
  get view(): DataView {
    this.#refresh();
    return this.#view;
  }

  /**
   * Traps unless `[ptr, ptr+len)` lies inside memory. Pointers are read as unsigned; a
   * negative `len` is a guest i32 read as unsigned, while larger computed lengths (a count
   * times an element size) are taken as they are.
   */
  check(ptr: number, len: number): number {
    const start = ptr >>> 0;
    const length = len < 0 ? len >>> 0 : len;
    const size = this.u8.byteLength;
    if (start + length > size) {
      trap(
        `out of bounds memory access: ${length} bytes at 0x${
          start.toString(16)
        } (memory is ${size} bytes)`,
      );
    }
    return start;
  }

  /** A live view of `len` bytes at `ptr` (no copy). */
  bytes(ptr: number, len: number): Uint8Array {
    const start = this.check(ptr, len);
    return this.#u8.subarray(start, start + (len < 0 ? len >>> 0 : len));
  }

  /** A copy of `len` bytes at `ptr`. */
  copy(ptr: number, len: number): Uint8Array {
    return this.bytes(ptr, len).slice();
  }

  /** Copies `data` into memory at `ptr`. */
  write(ptr: number, data: Uint8Array): void {
    const start = this.check(ptr, data.byteLength);
    this.#u8.set(data, start);
  }

  /** Reads `len` bytes at `ptr` as UTF-8; traps if they are not valid UTF-8. */
  readString(ptr: number, len: number, what = "string"): string {
    const bytes = this.bytes(ptr, len);
    // Short ASCII strings (entry names, most paths) are read here: a decoder call is an op.
    if (bytes.length <= 64) {
      let text = "";
      let i = 0;
      for (; i < bytes.length && bytes[i] < 0x80; i++) text += String.fromCharCode(bytes[i]);
      if (i === bytes.length) return text;
    }
    try {
      return utf8.decode(bytes);
    } catch {
      trap(`${what} is not valid UTF-8`);
    }
  }

  /** Encodes `text` as UTF-8 (helper for callers that write strings). */
  static encode(text: string): Uint8Array {
    return utf8Encoder.encode(text);
  }

  readU8(ptr: number): number {
    return this.u8[this.check(ptr, 1)];
  }

  writeU8(ptr: number, value: number): void {
    this.u8[this.check(ptr, 1)] = value;
  }

  readU16(ptr: number): number {
    return this.#viewAt(ptr, 2).getUint16(ptr >>> 0, true);
  }

  writeU16(ptr: number, value: number): void {
    this.#viewAt(ptr, 2).setUint16(ptr >>> 0, value, true);
  }

  readU32(ptr: number): number {
    return this.#viewAt(ptr, 4).getUint32(ptr >>> 0, true);
  }

  writeU32(ptr: number, value: number): void {
    this.#viewAt(ptr, 4).setUint32(ptr >>> 0, value >>> 0, true);
  }

  readU64(ptr: number): bigint {
    return this.#viewAt(ptr, 8).getBigUint64(ptr >>> 0, true);
  }

  readI64(ptr: number): bigint {
    return this.#viewAt(ptr, 8).getBigInt64(ptr >>> 0, true);
  }

  /** Writes a u64 LE; numbers must be non-negative integers, bigints are taken mod 2^64. */
  writeU64(ptr: number, value: bigint | number): void {
    const view = this.#viewAt(ptr, 8);
    const at = ptr >>> 0;
    if (typeof value === "bigint") {
      view.setBigUint64(at, BigInt.asUintN(64, value), true);
    } else {
      // Two halves: a BigInt per call (IDs, byte counts on every I/O call) is an allocation.
      view.setUint32(at, value >>> 0, true);
      view.setUint32(at + 4, Math.floor(value / 0x1_0000_0000) >>> 0, true);
    }
  }

  #viewAt(ptr: number, len: number): DataView {
    this.check(ptr, len);
    return this.#view;
  }
}
