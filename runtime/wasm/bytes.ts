/**
 * Reading and writing the primitive encodings of the WebAssembly binary format: bytes,
 * LEB128 integers and names. Readers work on absolute offsets into the whole module, so every
 * error can say exactly where the module is broken.
 */

/** The module's bytes do not follow the WebAssembly binary format (or use an unsupported part). */
export class WasmFormatError extends Error {
  override name = "WasmFormatError";
  constructor(message: string, readonly offset: number) {
    super(message);
  }
}

/** `0x1a3`: offsets in messages are hex, as in every wasm tool's output. */
export function hexOffset(offset: number): string {
  return `0x${offset.toString(16)}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
const utf8Encoder = new TextEncoder();
/** One UTF-16 unit per byte, so string indices match byte offsets (ASCII is unchanged). */
const singleByte = new TextDecoder("latin1");

/** Short ASCII names are built directly: cheaper than a TextDecoder call. */
const ASCII_FAST_PATH_LIMIT = 64;

/**
 * A cursor over `bytes[pos, end)`. `context` says what is being read ("the import section")
 * and goes into every error message.
 */
export class ByteReader {
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end: number = bytes.length,
    public context = "the module",
  ) {
    this.pos = start;
  }

  /** Bytes left before `end`. */
  get remaining(): number {
    return this.end - this.pos;
  }

  atEnd(): boolean {
    return this.pos >= this.end;
  }

  /** Throws a {@link WasmFormatError} naming `problem`, the context and the offset. */
  fail(problem: string, at: number = this.pos): never {
    throw new WasmFormatError(
      `${problem} while reading ${this.context} at offset ${hexOffset(at)}`,
      at,
    );
  }

  /** Reading past `end`: the module ran out if `end` is the module's end, else the section did. */
  #failEnd(at: number): never {
    this.fail(
      this.end >= this.bytes.length ? "unexpected end of module" : "unexpected end of section",
      at,
    );
  }

  /** A reader over the next `length` bytes (advancing past them), with its own context. */
  sub(length: number, context: string): ByteReader {
    const start = this.pos;
    if (length > this.end - start) this.#failEnd(this.end);
    this.pos = start + length;
    return new ByteReader(this.bytes, start, start + length, context);
  }

  u8(): number {
    if (this.pos >= this.end) this.#failEnd(this.pos);
    return this.bytes[this.pos++];
  }

  /** Unsigned LEB128, at most 5 bytes, value < 2^32. */
  u32(): number {
    // Fast path: most counts and indices fit in one byte.
    const pos = this.pos;
    if (pos < this.end) {
      const first = this.bytes[pos];
      if (first < 0x80) {
        this.pos = pos + 1;
        return first;
      }
    }
    return this.#unsigned(5, 32);
  }

  /** Unsigned LEB128 of at most 64 bits, as a number (memory64 limits); fails past 2^53. */
  u64AsNumber(): number {
    return this.#unsigned(10, 53);
  }

  #unsigned(maxBytes: number, bits: number): number {
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (this.pos >= this.end) this.#failEnd(this.pos);
      const byte = this.bytes[this.pos++];
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) {
        if (result >= 2 ** bits) this.fail(`integer too large (more than ${bits} bits)`, start);
        return result;
      }
    }
    return this.fail("integer representation too long", start);
  }

  /** Signed LEB128, 32 bits (i32.const). */
  s32(): number {
    const start = this.pos;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (this.pos >= this.end) this.#failEnd(this.pos);
      const byte = this.bytes[this.pos++];
      if (shift === 28) {
        // The fifth byte holds 4 value bits; the 3 above must repeat the sign bit.
        const unused = byte & 0x70;
        if ((byte & 0x80) !== 0) this.fail("integer representation too long", start);
        if (unused !== ((byte & 0x08) !== 0 ? 0x70 : 0)) this.fail("integer too large", start);
        return result | (byte << 28);
      }
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if ((byte & 0x40) !== 0) result |= -1 << (shift + 7);
        return result;
      }
    }
    return this.fail("integer representation too long", start);
  }

  /** Signed LEB128, 33 bits: block types and heap types (negative = abstract, else a type index). */
  s33(): number {
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (this.pos >= this.end) this.#failEnd(this.pos);
      const byte = this.bytes[this.pos++];
      if (i === 4) {
        // The fifth byte holds 5 value bits; the 2 above must repeat the sign bit.
        if ((byte & 0x80) !== 0) this.fail("integer representation too long", start);
        if ((byte & 0x60) !== ((byte & 0x10) !== 0 ? 0x60 : 0)) {
          this.fail("integer too large", start);
        }
        result += (byte & 0x1f) * scale;
        return (byte & 0x10) !== 0 ? result - 2 ** 33 : result;
      }
      result += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return (byte & 0x40) !== 0 ? result - scale : result;
    }
    return this.fail("integer representation too long", start);
  }

  /** Signed LEB128, 64 bits (i64.const). */
  s64(): bigint {
    const start = this.pos;
    let result = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.#failEnd(this.pos);
      const byte = this.bytes[this.pos++];
      const shift = BigInt(7 * i);
      if (i === 9) {
        // The tenth byte holds 1 value bit; the 6 above must repeat it.
        if ((byte & 0x80) !== 0) this.fail("integer representation too long", start);
        if (byte !== 0 && byte !== 0x7f) this.fail("integer too large", start);
        return BigInt.asIntN(64, result | (BigInt(byte) << shift));
      }
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) {
        if ((byte & 0x40) !== 0) result -= 1n << (shift + 7n);
        return result;
      }
    }
    return this.fail("integer representation too long", start);
  }

  /** Skips `length` bytes. */
  skip(length: number): void {
    if (length > this.end - this.pos) this.#failEnd(this.end);
    this.pos += length;
  }

  skipF32(): void {
    this.skip(4);
  }

  skipF64(): void {
    this.skip(8);
  }

  /** The next `length` bytes, as a view into the module (not a copy). */
  bytesView(length: number): Uint8Array {
    const start = this.pos;
    this.skip(length);
    return this.bytes.subarray(start, start + length);
  }

  /**
   * Prepares for reading many names (the name section): the rest of the reader is decoded
   * once as a single-byte encoding, so ASCII names become slices of that string instead of
   * one decoder call each, which is several times faster.
   */
  prepareForManyNames(): void {
    this.#singleByteText = singleByte.decode(this.bytes.subarray(this.pos, this.end));
    this.#singleByteTextStart = this.pos;
  }

  #singleByteText: string | null = null;
  #singleByteTextStart = 0;

  /** A name: u32 length, then that many bytes of valid UTF-8. */
  name(): string {
    const length = this.u32();
    const start = this.pos;
    this.skip(length);
    const end = start + length;
    const bytes = this.bytes;
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      const text = this.#singleByteText;
      if (text !== null && start >= this.#singleByteTextStart) {
        const offset = start - this.#singleByteTextStart;
        return text.slice(offset, offset + length);
      }
      if (length < ASCII_FAST_PATH_LIMIT) {
        let name = "";
        for (let i = start; i < end; i++) name += String.fromCharCode(bytes[i]);
        return name;
      }
    }
    try {
      return utf8.decode(bytes.subarray(start, end));
    } catch {
      return this.fail("malformed UTF-8 in a name", start);
    }
  }
}

/** A growable byte buffer with the wasm encodings. */
export class ByteWriter {
  #buffer: Uint8Array<ArrayBuffer>;
  #length = 0;

  constructor(initialCapacity = 256) {
    this.#buffer = new Uint8Array(Math.max(16, initialCapacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  #reserve(extra: number): void {
    const needed = this.#length + extra;
    if (needed <= this.#buffer.length) return;
    let capacity = this.#buffer.length * 2;
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.#buffer.subarray(0, this.#length));
    this.#buffer = grown;
  }

  u8(value: number): this {
    this.#reserve(1);
    this.#buffer[this.#length++] = value;
    return this;
  }

  /** Unsigned LEB128 of a non-negative safe integer (u32, or u64 below 2^53). */
  unsigned(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`not an unsigned LEB128 value: ${value}`);
    }
    this.#reserve(8);
    const buffer = this.#buffer;
    let length = this.#length;
    while (value >= 0x80) {
      buffer[length++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    buffer[length++] = value;
    this.#length = length;
    return this;
  }

  /** Unsigned LEB128, checked to fit 32 bits. */
  u32(value: number): this {
    if (value > 0xffffffff) throw new RangeError(`not a u32: ${value}`);
    return this.unsigned(value);
  }

  /** Signed LEB128 of a safe integer (s32, s33 block types). */
  signed(value: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError(`not a signed LEB128 value: ${value}`);
    this.#reserve(8);
    const buffer = this.#buffer;
    let length = this.#length;
    for (;;) {
      const low = ((value % 0x80) + 0x80) % 0x80;
      value = (value - low) / 0x80;
      const done = (value === 0 && (low & 0x40) === 0) || (value === -1 && (low & 0x40) !== 0);
      buffer[length++] = done ? low : low | 0x80;
      if (done) break;
    }
    this.#length = length;
    return this;
  }

  /** Signed LEB128, checked to fit 32 bits. */
  s32(value: number): this {
    if (value < -0x80000000 || value > 0x7fffffff) throw new RangeError(`not an s32: ${value}`);
    return this.signed(value);
  }

  /** Signed LEB128 of a 64-bit integer. */
  s64(value: bigint): this {
    value = BigInt.asIntN(64, value);
    for (;;) {
      const low = Number(value & 0x7fn);
      value >>= 7n;
      const done = (value === 0n && (low & 0x40) === 0) || (value === -1n && (low & 0x40) !== 0);
      this.u8(done ? low : low | 0x80);
      if (done) return this;
    }
  }

  bytes(bytes: Uint8Array): this {
    this.#reserve(bytes.length);
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
    return this;
  }

  /** A name: u32 length of its UTF-8, then the UTF-8. */
  name(name: string): this {
    const encoded = utf8Encoder.encode(name);
    return this.u32(encoded.length).bytes(encoded);
  }

  /** The bytes written. The writer starts over empty, so the result is never overwritten. */
  finish(): Uint8Array<ArrayBuffer> {
    const result = this.#buffer.subarray(0, this.#length);
    this.#buffer = new Uint8Array(16);
    this.#length = 0;
    return result;
  }
}

/** The unsigned LEB128 encoding of `n` (section and body sizes). */
export function encodeU32Leb(n: number): Uint8Array<ArrayBuffer> {
  return new ByteWriter(8).u32(n).finish();
}
